"""A network's host side: the Linux bridge with the gateway address, forwarding, and masquerade.

`ensure_bridge` is idempotent and runs on every attach, so a bridge lost to a reboot (or never made:
`network create` only records the network) comes back on first use. `remove_bridge` undoes it all.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
from pathlib import Path

from kubeplay.errors import ConflictError, HostError, UserError
from kubeplay.logs import get_logger
from kubeplay.net import nftables
from kubeplay.net.hostlock import network_lock
from kubeplay.net.netlink import link_index, netlink_code, rtnl, write_sysctl
from kubeplay.net.subnets import HostRoute, find_overlap, host_routes
from kubeplay.store.network import NetworkRecord

BRIDGE_NAME = re.compile(r"^[a-z][a-z0-9]{0,14}$")  # IFNAMSIZ leaves 15 characters
IFF_UP = 0x1  # in an interface's flags (/sys/class/net/NAME/flags)

log = get_logger(__name__)


def check_bridge_name(name: str) -> None:
    if not BRIDGE_NAME.match(name):
        raise UserError(f"invalid bridge name \"{name}\"",
                        hint="use 1-15 lowercase letters and digits, starting with a letter")


def link_exists(name: str) -> bool:
    """Whether the host has an interface of that name (sysfs: no netlink, no root)."""
    return Path("/sys/class/net", name).exists()


def nft_table(record: NetworkRecord) -> str:
    return record.config.get("nft_table", nftables.TABLE)


def ensure_bridge(record: NetworkRecord, owner: str = "") -> int:
    """The network's bridge, made if missing, with the gateway address, up; returns its index.
    `owner` names the store (its root): a bridge of the same name made by another store is refused."""
    with network_lock():  # concurrent plays would both find the bridge missing and both add it
        return _ensure_bridge(record, owner)


_OWNER_MARK = "kubeplay store "  # a bridge's ifalias: which store made it


def _owner_alias(owner: str) -> str:
    return f"{_OWNER_MARK}{owner}"[:255]  # the kernel keeps 255 bytes of an alias


def _mark_owner(bridge: str, owner: str) -> None:
    """Best effort: an unmarked bridge works as before, it is only not told apart from another
    store's bridge of the same name."""
    try:
        Path("/sys/class/net", bridge, "ifalias").write_text(_owner_alias(owner))
    except OSError as exc:
        log.warning("cannot mark bridge %s as made by store %s: %s", bridge, owner, exc.strerror or exc)


def _owned_elsewhere(record: NetworkRecord, owner: str) -> str | None:
    """The other store that made the network's bridge (from its alias), when it is not this one;
    None for this store's bridge, a bridge without kubeplay's mark, or no `owner` to compare."""
    if not owner:
        return None
    try:
        alias = Path("/sys/class/net", record.bridge, "ifalias").read_text().strip()
    except OSError:
        return None
    if not alias.startswith(_OWNER_MARK) or alias == _owner_alias(owner):
        return None
    return alias[len(_OWNER_MARK):]


def check_not_routed_elsewhere(record: NetworkRecord, routes: list[HostRoute]) -> None:
    """Refuse to bring up a bridge for a subnet the host already routes through another interface.

    A network's subnet is checked against the host's routes when it is recorded, but a network of
    another store is only a record until its first pod, so two stores can come to hold one subnet;
    the second bridge would then take traffic meant for the first one's pods."""
    holder = find_overlap(ipaddress.ip_network(record.subnet), [], routes, [record.bridge])
    if holder:
        raise ConflictError(
            f"network \"{record.name}\" ({record.subnet}) overlaps {holder}, so its bridge {record.bridge} "
            "cannot be brought up",
            hint="another kubeplay store may be using that subnet: play on a network with a free --subnet "
                 "(`kubeplay network create NAME --subnet CIDR`, `play --network NAME`)",
        )


def _ensure_bridge(record: NetworkRecord, owner: str) -> int:
    subnet = ipaddress.ip_network(record.subnet)
    other = _owned_elsewhere(record, owner)
    if other is not None:
        # two stores' networks recorded while neither bridge was up can carry the same bridge name
        raise ConflictError(
            f"bridge {record.bridge} of network \"{record.name}\" belongs to another kubeplay store ({other})",
            hint="play on a network of its own: `kubeplay network create NAME --subnet CIDR` picks a free "
                 "bridge name while the other store's bridge is up; then `play --network NAME`",
        )
    with rtnl(f"setting up bridge {record.bridge} of network {record.name}") as ipr:
        index = link_index(record.bridge)
        fresh = index is None
        if index is None:
            check_not_routed_elsewhere(record, host_routes())
            ipr.add_link(record.bridge, "bridge")
            index = link_index(record.bridge)
            if index is not None and owner:
                _mark_owner(record.bridge, owner)
        if index is None:
            raise HostError(f"bridge {record.bridge} did not appear after it was added",
                            hint="check `ip link` and `dmesg` on the host")
        # a bridge an earlier attach set up is recognised without running `ip` twice for each pod
        if fresh or not _complete(record.bridge, record.gateway, subnet.prefixlen):
            if (record.gateway, subnet.prefixlen) not in ipr.addresses(index):
                fresh = True
                ipr.add_address(index, record.gateway, subnet.prefixlen)
            ipr.set_link(index, up=True)
    # pods reach beyond the host only if the host routes between interfaces
    write_sysctl("net.ipv4.ip_forward", "1", "pods on the bridge need routing to the outside")
    # a hostPort reached at 127.0.0.1 is DNATed to the pod and leaves through the bridge with a
    # loopback source; the kernel drops such packets unless route_localnet is on for that device
    _write_device_sysctl(record.bridge, "route_localnet", "1",
                         "hostPorts reached at 127.0.0.1 are routed to the pod through the bridge")
    if fresh:
        # a bridge found complete was set up by an earlier attach, masquerade included (the bridge
        # and the table go together: a reboot drops both), so each later pod skips two nft runs
        nftables.install_masquerade(record.name, record.subnet, table=nft_table(record), bridge=record.bridge,
                                    bridged_netfilter=pin_bridged_netfilter(record.bridge))
    return index


BRIDGE_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")  # present while br_netfilter is loaded


def pin_bridged_netfilter(bridge: str) -> bool:
    """Whether br_netfilter passes the bridge's frames through the IPv4 hooks, so connection
    tracking sees pod-to-pod traffic on it (what Kubernetes nodes require). When the host turns it on
    for all bridges, it is also turned on for this bridge alone: the masquerade rules rely on it, and
    a later change of the host-wide setting must not break the bridge's Service connections.
    kubeplay never turns it on where the host has it off: that would slow every pod-to-pod packet."""
    own = Path("/sys/class/net", bridge, "bridge", "nf_call_iptables")
    try:
        host_wide = BRIDGE_NF_CALL.read_text().strip() == "1"
        if own.read_text().strip() == "1":
            return True
        if host_wide:
            own.write_text("1")
        return host_wide
    except OSError:  # no br_netfilter: masquerade covers every DNATed connection
        return False


def _complete(bridge: str, gateway: str, prefixlen: int) -> bool:
    """Whether the bridge is up with the gateway as its primary address (sysfs and an ioctl: no
    `ip` run); False sends the caller to the full check."""
    from kubeplay.net.hostaddr import interface_prefix

    try:
        flags = int(Path("/sys/class/net", bridge, "flags").read_text(), 16)
    except (OSError, ValueError):
        return False
    return bool(flags & IFF_UP) and interface_prefix(bridge) == (gateway, prefixlen)


def _write_device_sysctl(device: str, key: str, value: str, why: str) -> None:
    # device names never contain '.', so the dotted form is unambiguous
    write_sysctl(f"net.ipv4.conf.{device}.{key}", value, why)


def remove_bridge(record: NetworkRecord, owner: str = "") -> None:
    """Delete the bridge and the network's masquerade. Idempotent. A bridge of the same name that
    another store made (`owner` names this one) is that store's: it and its masquerade stay."""
    with network_lock():
        if _owned_elsewhere(record, owner) is None:
            _remove_bridge(record)


def _remove_bridge(record: NetworkRecord) -> None:
    if link_exists(record.bridge):
        try:
            with rtnl(f"removing bridge {record.bridge} of network {record.name}") as ipr:
                index = link_index(record.bridge)
                if index is not None:
                    ipr.delete_link(index)
        except HostError as exc:
            if netlink_code(exc) != errno.ENODEV:  # gone meanwhile: that is what we wanted
                raise
    if os.geteuid() == 0:  # only root can have installed rules, and only root may read the table
        nftables.remove_masquerade(record.name, table=nft_table(record), bridge=record.bridge)

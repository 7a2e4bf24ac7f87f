"""Plugging a pod's netns into a bridge network: lease, veth pair, address, default route.

The host end is named from the pod ("kpv" + 8 hex of a hash), so a later detach, or a retried
attach, finds what an earlier, maybe half-finished, attach made. The pod end is created directly
inside the pod's namespace as eth0, so it never shows up (or collides) on the host.
Attach and detach are symmetric and idempotent; a failed attach undoes itself.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.errors import HostError
from kubeplay.net.bridge import ensure_bridge, link_exists
from kubeplay.net.ipam import allocate, release
from kubeplay.net.netlink import link_index, netlink_code, rtnl
from kubeplay.net.netns import run_in_netns
from kubeplay.net.networks import DEFAULT_NETWORK, resolve_network
from kubeplay.store.db import Database
from kubeplay.store.network import get_network_record

POD_INTERFACE = "eth0"
# seconds the kernel may take to remove a veth pair after the namespace holding one end was released
RELEASE_WAIT = 0.2


@dataclass(frozen=True)
class PodNetwork:
    """A pod's attachment to a bridge network."""

    ip: str
    prefix_len: int
    gateway: str
    network: str
    bridge: str
    host_veth: str


def host_veth_name(pod_name: str, scope: str = "") -> str:
    """Deterministic and short (IFNAMSIZ allows 15 characters). `scope` names the store: pod names
    repeat across stores, and one store's attach must never take over another's veth."""
    key = f"{scope}\0{pod_name}" if scope else pod_name
    return "kpv" + hashlib.sha256(key.encode()).hexdigest()[:8]


def pod_mac(ip: str) -> str:
    """The pod end's MAC address, made from its IPv4 address (locally administered prefix 0a:58).

    An address is leased again once its pod is gone; with a new random MAC the host and the other
    pods would keep sending to the old one until their neighbour entry went stale and was probed
    again (seconds of unanswered connections after a down and a play). The same address always has
    the same MAC, so a cached entry stays right."""
    return "0a:58:" + ":".join(f"{byte:02x}" for byte in ipaddress.IPv4Address(ip).packed)


def veth_scope(settings: Settings) -> str:
    """The store in the names of host-wide things: its pods' veths, the bridges it makes, its pods'
    port chains (pod names and bridge names repeat across stores)."""
    return str(settings.root)


def lease_address(db: Database, pod_name: str, network: str, wanted: str = "") -> str:
    """The pod's address on `network` ("" = the default network), leased now (`wanted` when
    given); `attach_pod` keeps it."""
    return allocate(db, resolve_network(db, network).name, pod_name, wanted)


def attach_pod(settings: Settings, db: Database, pod_name: str, netns_path: Path, network: str,
               mac: str = "") -> PodNetwork:
    """Give the pod in `netns_path` an address on `network` ("" = the default network), and its
    interface the MAC address `mac` (default: one derived from the address)."""
    if settings.rootless:
        raise HostError("bridge networking needs root", hint="rootless pods use pasta or slirp4netns")
    record = resolve_network(db, network)
    try:
        scope = veth_scope(settings)
        bridge_index = ensure_bridge(record, owner=scope)
        ip = allocate(db, record.name, pod_name)
        prefix_len = ipaddress.ip_network(record.subnet).prefixlen
        host = host_veth_name(pod_name, scope)
        _delete_link(host)  # a leftover of an attach that died halfway
        _create_veth(host, bridge_index, netns_path, mac or pod_mac(ip))
        _configure_pod_side(netns_path, ip, prefix_len, record.gateway)
    except BaseException:
        detach_pod(settings, db, pod_name, record.name)
        raise
    return PodNetwork(ip=ip, prefix_len=prefix_len, gateway=record.gateway, network=record.name,
                      bridge=record.bridge, host_veth=host)


def _create_veth(host: str, bridge_index: int, netns_path: Path, pod_address: str) -> None:
    if not netns_path.exists():
        raise HostError(f"network namespace {netns_path} is gone",
                        hint="the pod's namespace is gone; remove the pod and play it again")
    with rtnl(f"creating veth {host}") as ipr:
        ipr.add_veth_to_bridge(host, bridge_index, peer=POD_INTERFACE, peer_netns=netns_path,
                               peer_address=pod_address)
    if link_index(host) is None:
        raise HostError(f"veth {host} did not appear after it was added", hint="check `dmesg` for veth errors")
    _allow_hairpin(host)


def _allow_hairpin(host: str) -> None:
    """Let the bridge send a frame back out of the port it came in on. A pod reaching a Service that
    picks the pod itself sends to the gateway and gets DNATed back to its own address; where
    br_netfilter is loaded that DNAT happens on the bridge, which without hairpin mode drops the
    frame instead of returning it (the kubelet's bridge plugins set the same)."""
    try:
        Path("/sys/class/net", host, "brport", "hairpin_mode").write_text("1")
    except OSError as exc:
        raise HostError(f"cannot set hairpin mode on {host}: {exc.strerror or exc}",
                        hint="check that sysfs is mounted read-write") from exc


def _configure_pod_side(netns_path: Path, ip: str, prefix_len: int, gateway: str) -> None:
    # a thread inside the namespace: the `ip` runs it forks start there
    run_in_netns(netns_path, _configure_eth0, netns_path, ip, prefix_len, gateway)


def _configure_eth0(netns_path: Path, ip: str, prefix_len: int, gateway: str) -> None:
    with rtnl(f"configuring {POD_INTERFACE} in {netns_path}") as ipr:
        index = link_index(POD_INTERFACE)
        if index is None:
            raise HostError(f"{POD_INTERFACE} did not appear in {netns_path}",
                            hint="check `dmesg` for veth errors")
        ipr.configure_interface(index, ip, prefix_len, gateway)


def _delete_link(name: str) -> None:
    if not link_exists(name):
        return
    try:
        with rtnl(f"removing veth {name}") as ipr:
            index = link_index(name)
            if index is not None:
                ipr.delete_link(index)  # takes the pod's end with it
    except HostError as exc:
        if netlink_code(exc) != errno.ENODEV:
            raise


def _gone_soon(name: str) -> bool:
    """Whether link `name` disappears within RELEASE_WAIT."""
    deadline = time.monotonic() + RELEASE_WAIT
    while link_exists(name):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def detach_pod(settings: Settings, db: Database, pod_name: str, network: str, *,
               namespace_released: bool = False) -> None:
    """Remove the pod's veth (if any) and its lease (if any), the lease even when the veth cannot
    be removed. Idempotent.

    With `namespace_released` (the pod's network namespace was let go of), the kernel removes the
    veth pair itself a moment later; it is given that moment before the veth is deleted here."""
    from kubeplay.cleanup import run_every_step

    host = host_veth_name(pod_name, veth_scope(settings))

    def remove_link() -> None:
        if not (namespace_released and _gone_soon(host)):
            _delete_link(host)

    def release_lease() -> None:
        record = get_network_record(db, network or DEFAULT_NETWORK)
        if record is not None:
            release(db, record.name, pod_name)

    run_every_step([remove_link, release_lease])

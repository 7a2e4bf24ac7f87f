"""kubeplay's nftables table (`inet kubeplay`): masquerade of pod subnets and hostPort publishing.

kubeplay owns exactly one table and never touches another. Layout:

    prerouting  (nat, dstnat)  fib daddr type local jump hostports     from other hosts and pods
    output      (nat, -100)    fib daddr type local jump hostports     from the host, 127.0.0.1 too
    postrouting (nat, srcnat)  jump outbound
                               ip saddr 127.0.0.0/8 ct status dnat masquerade
    hostports                  jump pod-<pod>          one rule per publishing pod
    pod-<pod>                  ip saddr IP meta mark set mark | HAIRPIN      the pod reaching itself
                               [ip daddr HOSTIP] tcp dport P dnat ip to IP:PORT, ...
    outbound                   ip saddr SUBNET jump net-<bridge>    one rule per network
    net-<bridge>               ip daddr != SUBNET masquerade        outbound
                               [ip daddr SUBNET ct status dnat mark & HAIRPIN == 0 return]
                               ip daddr SUBNET ct status dnat masquerade

A connection from one pod to another that was DNATed on the way (a hostPort reached at the host's
address, a Service) needs the answer to pass the host's connection tracking to be translated back.
Where br_netfilter passes the bridge's frames through the IPv4 hooks (Kubernetes nodes require it),
the answer crossing the bridge is translated there: the connection keeps the client pod's address,
as on Kubernetes, and its answers stay on the bridge. Only a pod reaching itself (HAIRPIN, set where
the DNAT is chosen, as kube-proxy does) is masqueraded then, or its answer would never leave it.
Without br_netfilter every such connection is masqueraded to the gateway, so answers come back
through the host.

Each pod and each network has its own chain, so removing one is: delete the jump (found by handle
in `nft -j` output) and the chain, in one atomic `nft -f -` transaction. Base chains hold only fixed
rules and are flushed and refilled on every change, which makes setup idempotent even when two
plays race to create the table.

Several stores (--root) share the table. Network chains are named after the bridge, which is unique
on the host while it exists; the table itself is deleted only when no pod or network chain is left
in it (`foreign_chains`), so one store's reset never strips another store's rules.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Iterable

from kubeplay.errors import HostError
from kubeplay.model.plan import PortMapping
from kubeplay.net.hostlock import network_lock

TABLE = "kubeplay"
FAMILY = "inet"
NFT_TIMEOUT = 15  # seconds
# A packet mark bit meaning "masquerade this connection": a pod DNATed back to itself. The bit is
# the one kube-proxy gives the same meaning, so the two never disagree on a host that has both.
HAIRPIN_MARK = 0x4000
_CHAIN_SAFE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,100}$")
_COMMENT_MAX = 120  # the kernel keeps at most 128 bytes of a rule comment


def pod_chain(pod_name: str, scope: str = "") -> str:
    """The chain of the pod's hostPort rules. `scope` names the store when it is not the default
    one: pod names repeat across stores, and one store's pod must never replace or remove another's
    rules (`web` in two stores: `pod-web` and `pod-web.1a2b3c4d`)."""
    if not scope:
        return _object_chain("pod", pod_name)
    return _object_chain("pod", f"{pod_name}.{hashlib.sha256(scope.encode()).hexdigest()[:8]}")


def network_chain(network: str) -> str:
    return _object_chain("net", network.lower() if _CHAIN_SAFE.match(network.lower()) else network)


def _object_chain(prefix: str, name: str) -> str:
    if _CHAIN_SAFE.match(name):
        return f"{prefix}-{name}"
    return f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def _comment(text: str) -> str:
    return '"' + text.replace('"', "'")[:_COMMENT_MAX] + '"'


def base_script(table: str = TABLE) -> str:
    """The table and its base chains, refilled atomically; the pod and network chains are kept."""
    t = f"{FAMILY} {table}"
    return "\n".join([
        f"add table {t}",
        f"add chain {t} hostports",
        f"add chain {t} outbound",
        f"add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}",
        f"flush chain {t} prerouting",
        f"add rule {t} prerouting fib daddr type local jump hostports",
        f"add chain {t} output {{ type nat hook output priority -100; policy accept; }}",
        f"flush chain {t} output",
        f"add rule {t} output fib daddr type local jump hostports",
        f"add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}",
        f"flush chain {t} postrouting",
        f"add rule {t} postrouting jump outbound",
        # a connection from 127.0.0.1 DNATed to a pod leaves through the bridge with a loopback
        # source the pod cannot answer; give it the bridge's address instead
        f"add rule {t} postrouting ip saddr 127.0.0.0/8 ct status dnat masquerade"
        f" comment {_comment('published ports reached from localhost')}",
    ]) + "\n"


def _delete_lines(table: str, dispatch: str, handles: Iterable[int], chain: str | None) -> list[str]:
    t = f"{FAMILY} {table}"
    lines = [f"delete rule {t} {dispatch} handle {handle}" for handle in handles]
    if chain:
        lines.append(f"delete chain {t} {chain}")
    return lines


def publish_script(pod_name: str, ip: str, ports: Iterable[PortMapping], table: str = TABLE,
                   stale_jumps: Iterable[int] = (), scope: str = "") -> str:
    """Base chains, then the pod's chain (re)filled and jumped to once from `hostports`."""
    t = f"{FAMILY} {table}"
    chain = pod_chain(pod_name, scope)
    comment = _comment(f"pod {pod_name}")
    lines = [base_script(table).rstrip("\n")]
    lines += _delete_lines(table, "hostports", stale_jumps, None)
    lines += [f"add chain {t} {chain}", f"flush chain {t} {chain}", hairpin_rule(t, chain, ip)]
    for port in ports:
        if not port.host_port:
            continue
        proto = port.protocol.lower()
        match = f"ip daddr {port.host_ip} " if port.host_ip and port.host_ip != "0.0.0.0" else ""
        lines.append(f"add rule {t} {chain} {match}{proto} dport {port.host_port}"
                     f" dnat ip to {ip}:{port.container_port} comment {comment}")
    lines.append(f"add rule {t} hostports jump {chain} comment {comment}")
    return "\n".join(lines) + "\n"


def hairpin_rule(t: str, chain: str, ip: str) -> str:
    """The rule, ahead of DNATs to `ip`, that marks a connection from `ip` itself for masquerade."""
    return f"add rule {t} {chain} ip saddr {ip} meta mark set meta mark | {HAIRPIN_MARK:#x}"


def masquerade_script(network: str, subnet: str, table: str = TABLE, stale_jumps: Iterable[int] = (),
                      *, chain: str = "", bridged_netfilter: bool = False) -> str:
    """The network's chain: masquerade leaving the subnet, and DNATed connections into it.
    `bridged_netfilter`: the bridge's frames pass the IPv4 hooks, so a DNATed connection between two
    pods of the bridge is translated back on the bridge and keeps its source (see the module doc)."""
    t = f"{FAMILY} {table}"
    chain = chain or network_chain(network)
    comment = _comment(f"network {network}")
    lines = [base_script(table).rstrip("\n")]
    lines += _delete_lines(table, "outbound", stale_jumps, None)
    lines += [
        f"add chain {t} {chain}",
        f"flush chain {t} {chain}",
        f"add rule {t} {chain} ip daddr != {subnet} masquerade comment {comment}",
    ]
    if bridged_netfilter:
        lines.append(f"add rule {t} {chain} ip daddr {subnet} ct status dnat meta mark & {HAIRPIN_MARK:#x} == 0"
                     f" return comment {comment}")
    lines += [
        f"add rule {t} {chain} ip daddr {subnet} ct status dnat masquerade comment {comment}",
        f"add rule {t} outbound ip saddr {subnet} jump {chain} comment {comment}",
    ]
    return "\n".join(lines) + "\n"


def run_nft(script: str, doing: str) -> None:
    """Apply a script in one transaction: all of it or none of it."""
    _nft(["-f", "-"], doing, stdin=script)


def _nft(args: list[str], doing: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True,
                              check=True, timeout=NFT_TIMEOUT)
    except FileNotFoundError as exc:
        raise HostError(f"{doing}: the `nft` command is not installed", hint="install nftables") from exc
    except subprocess.TimeoutExpired as exc:
        raise HostError(f"{doing}: nft did not answer within {NFT_TIMEOUT}s",
                        hint="check for a stuck nft process") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()
        raise HostError(f"{doing}: nft failed: {detail[0] if detail else exc}",
                        hint="run as root; check `nft list ruleset` and that the nf_tables module loads") from exc
    return done.stdout


def table_objects(table: str = TABLE) -> list[dict]:
    """The table's chains and rules as `nft -j` objects; [] if the table does not exist."""
    try:
        text = _nft(["-j", "list", "table", FAMILY, table], f"reading nftables table {table}")
    except HostError as exc:
        if "No such file or directory" in exc.message:
            return []
        raise
    try:
        return json.loads(text).get("nftables", [])
    except ValueError as exc:
        raise HostError(f"nft printed JSON kubeplay cannot read: {exc}", hint="check the nftables version") from exc


def jumps_to(objects: list[dict], dispatch: str, chain: str) -> list[int]:
    """Handles of the rules in `dispatch` that jump to `chain`."""
    handles = []
    for item in objects:
        rule = item.get("rule")
        if not rule or rule.get("chain") != dispatch:
            continue
        if any(expr.get("jump", {}).get("target") == chain for expr in rule.get("expr", [])):
            handles.append(rule["handle"])
    return handles


def chain_exists(objects: list[dict], chain: str) -> bool:
    return any(item.get("chain", {}).get("name") == chain for item in objects)


def publish(pod_name: str, ip: str, ports: list[PortMapping], *, scope: str = "", table: str = TABLE,
            check: Callable[[list[dict]], None] | None = None) -> None:
    """DNAT the pod's hostPorts to ip:containerPort; replaces what the pod published before.

    `check` is given the table as it is read under the host-wide lock and may refuse (raise): the
    check that a port is free and the rule that takes it are one step, so two plays at once, of
    this store or of another on the host, can never both take a port."""
    if not any(port.host_port for port in ports):
        return
    with network_lock():  # the handles read here must still be there when the script runs
        objects = table_objects(table)
        if check is not None:
            check(objects)
        stale = jumps_to(objects, "hostports", pod_chain(pod_name, scope))
        run_nft(publish_script(pod_name, ip, ports, table, stale, scope), f"publishing ports of pod {pod_name}")


def unpublish(pod_name: str, *, scope: str = "", table: str = TABLE) -> None:
    """Remove exactly the pod's port rules. Idempotent."""
    _remove_chain(table, "hostports", pod_chain(pod_name, scope), f"unpublishing ports of pod {pod_name}")


def install_masquerade(network: str, subnet: str, *, table: str = TABLE, bridge: str = "",
                       bridged_netfilter: bool = False) -> None:
    """Masquerade the network's outbound traffic. The chain is keyed by `bridge` when given: network
    names repeat across stores (every store has a `kubeplay`), live bridge names cannot."""
    chain = network_chain(bridge or network)
    with network_lock():
        stale = jumps_to(table_objects(table), "outbound", chain)
        run_nft(masquerade_script(network, subnet, table, stale, chain=chain, bridged_netfilter=bridged_netfilter),
                f"masquerading network {network}")


def remove_masquerade(network: str, *, table: str = TABLE, bridge: str = "") -> None:
    _remove_chain(table, "outbound", network_chain(bridge or network), f"removing masquerade of network {network}")


def _remove_chain(table: str, dispatch: str, chain: str, doing: str) -> None:
    with network_lock():
        objects = table_objects(table)
        if not chain_exists(objects, chain):
            return
        run_nft("\n".join(_delete_lines(table, dispatch, jumps_to(objects, dispatch, chain), chain)) + "\n", doing)


def foreign_chains(objects: list[dict]) -> list[str]:
    """Pod and network chains in the table: what some store still publishes or masquerades."""
    names = [item["chain"]["name"] for item in objects if "chain" in item]
    return [name for name in names if name.startswith(("pod-", "net-"))]


def remove_table(*, table: str = TABLE) -> None:
    """Delete kubeplay's whole table (all pods' and networks' rules). Idempotent."""
    with network_lock():
        if table_objects(table):
            run_nft(f"delete table {FAMILY} {table}\n", f"removing nftables table {table}")

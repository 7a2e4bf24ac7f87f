"""Forgetting UDP flows that still point at an endpoint a Service no longer has, as kube-proxy does.

A UDP "connection" lives in conntrack as long as packets keep coming, and its DNAT was decided by
the first packet: a client that keeps sending from one port (a DNS resolver, a game, a metrics
agent) would go on reaching a removed or unready endpoint, or nothing, long after the rules
changed. TCP needs no such care: a new connection takes the new rules, and one to a vanished pod
is reset. So after a Service's rules are rewritten, the UDP entries sent to its cluster IP or its
host ports whose reply comes from an address that is not one of its endpoints are deleted, through
netlink (pyroute2's Conntrack), as `conntrack -D` would.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

from kubeplay.errors import HostError
from kubeplay.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class UdpService:
    """Where one UDP Service port is reached, and the pod addresses that may answer for it now."""

    cluster_ip: str  # "" when headless
    port: int
    host_ports: tuple[int, ...]
    endpoints: frozenset[str]


def is_stale(service: UdpService, orig_dst: tuple[str, int], reply_src: str) -> bool:
    """Whether a UDP flow sent to `orig_dst` and answered from `reply_src` belongs to `service`
    and goes to an address it no longer sends to. A flow that was not translated (answered by the
    address it was sent to) is none of the Service's business."""
    address, port = orig_dst
    if reply_src == address:
        return False
    reached = (service.cluster_ip and (address, port) == (service.cluster_ip, service.port)) or port in service.host_ports
    return bool(reached) and reply_src not in service.endpoints


def forget_stale_udp(services: Iterable[UdpService]) -> int:
    """Delete the stale UDP flows of these Service ports; returns how many went."""
    services = [service for service in services if service.cluster_ip or service.host_ports]
    if not services:
        return 0
    from pyroute2 import NetlinkError
    from pyroute2.conntrack import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    deleted = 0
    try:
        with Conntrack() as table:
            stale = [entry for entry in table.dump_entries(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP))
                     if entry.tuple_orig.proto == socket.IPPROTO_UDP
                     and any(is_stale(service, (entry.tuple_orig.daddr, entry.tuple_orig.dport),
                                      entry.tuple_reply.saddr) for service in services)]
            for entry in stale:
                try:
                    table.delete(entry)
                    deleted += 1
                except NetlinkError as exc:
                    if exc.code != 2:  # ENOENT: it expired meanwhile
                        raise
    except NetlinkError as exc:
        raise HostError(f"cannot clear stale UDP flows of Services from conntrack: {exc}",
                        hint="check that the nf_conntrack netlink interface is available (modprobe nf_conntrack_netlink)") from exc
    if deleted:
        log.debug("forgot %d UDP flows to endpoints that left their Services", deleted)
    return deleted

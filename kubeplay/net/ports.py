"""Checking hostPorts before anything of a pod starts: range, protocol, and who already holds them.

A hostPort is held either by another kubeplay pod (a rule in kubeplay's nftables table: the live
truth, present from play to down) or by a program on the host (a bound socket, found by trying to
bind it). Conflicts are ConflictErrors naming the holder.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kubeplay.config import is_rootless
from kubeplay.errors import ConflictError, UserError
from kubeplay.model.plan import PortMapping
from kubeplay.net.nftables import TABLE, table_objects
from kubeplay.store.db import Database

PROTOCOLS = ("TCP", "UDP")
_OWNER_SCAN_SECONDS = 1.0  # naming the holding process is a courtesy; never let it stall a play


@dataclass(frozen=True)
class PortClaim:
    """A host port a pod publishes (or wants to)."""

    pod_name: str
    protocol: str  # "TCP" or "UDP"
    host_port: int
    host_ip: str = ""  # "" means every address
    chain: str = field(default="", compare=False)  # the nft chain it was read from: its pod in its store

    def collides(self, protocol: str, host_port: int, host_ip: str) -> bool:
        if (self.protocol, self.host_port) != (protocol, host_port):
            return False
        return not self.host_ip or not host_ip or self.host_ip == host_ip

    def describe(self) -> str:
        return f"{self.host_ip + ':' if self.host_ip else ''}{self.host_port}/{self.protocol}"


def _normal_ip(host_ip: str) -> str:
    return "" if host_ip in ("", "0.0.0.0") else host_ip


def claims_from_rules(objects: list[dict]) -> list[PortClaim]:
    """Claims read back from the pod chains of `nft -j list table` output."""
    claims = []
    for item in objects:
        rule = item.get("rule")
        if not rule or not rule.get("chain", "").startswith("pod-"):
            continue
        comment = rule.get("comment", "")
        pod = comment[4:] if comment.startswith("pod ") else rule["chain"][4:]
        protocol, port, host_ip = None, None, ""
        for expr in rule.get("expr", []):
            payload = expr.get("match", {}).get("left", {}).get("payload", {})
            right = expr.get("match", {}).get("right")
            if payload.get("protocol") in ("tcp", "udp") and payload.get("field") == "dport":
                protocol, port = payload["protocol"].upper(), right
            elif payload.get("protocol") == "ip" and payload.get("field") == "daddr" and isinstance(right, str):
                host_ip = right
        if protocol and isinstance(port, int):
            claims.append(PortClaim(pod, protocol, port, host_ip, chain=rule["chain"]))
    return claims


def published_claims(*, table: str = TABLE) -> list[PortClaim]:
    """Every hostPort kubeplay pods publish now."""
    return claims_from_rules(table_objects(table))


def check_ports(claims: Database | Iterable[PortClaim], ports: Iterable[PortMapping], *, pod_name: str = "",
                own_chain: str = "", rootless: bool | None = None, probe_host: bool = True,
                table: str = TABLE) -> None:
    """Refuse the pod's hostPorts if invalid or held; the pod's own earlier claims do not count.

    `claims` is either the claims to check against, or the state database: then the live claims
    are read from kubeplay's nftables table (the database holds no port state). The pod's own
    claims are those read from `own_chain` when it is given (a pod of the same name in another
    store is someone else), else those of `pod_name`. `rootless` None means "as this process runs".
    """
    ports = [port for port in ports if port.host_port]
    if not ports:
        return  # nothing to publish: no need to read nft (which needs root)
    if isinstance(claims, Database):
        claims = published_claims(table=table) if not is_rootless() else []
    if rootless is None:
        rootless = is_rootless()
    others = [claim for claim in claims if not _own(claim, pod_name, own_chain)]
    wanted: list[PortClaim] = []
    for port in ports:
        if not port.host_port:
            continue
        claim = _validate(port, pod_name, rootless)
        for earlier in wanted:
            if earlier.collides(claim.protocol, claim.host_port, claim.host_ip):
                raise ConflictError(f"pod \"{pod_name}\" publishes hostPort {claim.describe()} twice",
                                    hint="give each container port its own hostPort")
        for other in others:
            if other.collides(claim.protocol, claim.host_port, claim.host_ip):
                raise ConflictError(
                    f"hostPort {claim.describe()} of pod \"{pod_name}\" is already published by pod \"{other.pod_name}\"",
                    hint=f"choose another hostPort, or remove pod \"{other.pod_name}\" first",
                )
        if probe_host:
            probe_host_port(claim)
        wanted.append(claim)


def _own(claim: PortClaim, pod_name: str, own_chain: str) -> bool:
    if own_chain and claim.chain:
        return claim.chain == own_chain
    return claim.pod_name == pod_name


def _validate(port: PortMapping, pod_name: str, rootless: bool) -> PortClaim:
    where = f"pod \"{pod_name}\" port {port.name or port.container_port}"
    protocol = (port.protocol or "TCP").upper()
    if protocol not in PROTOCOLS:
        raise UserError(f"{where}: protocol {port.protocol} cannot be published",
                        hint="kubeplay publishes TCP and UDP hostPorts")
    if not 1 <= int(port.host_port or 0) <= 65535:
        raise UserError(f"{where}: hostPort {port.host_port} is out of range", hint="use 1-65535")
    if not 1 <= port.container_port <= 65535:
        raise UserError(f"{where}: containerPort {port.container_port} is out of range", hint="use 1-65535")
    host_ip = _normal_ip(port.host_ip)
    if host_ip:
        try:
            if ipaddress.ip_address(host_ip).version != 4:
                raise ValueError("not IPv4")
        except ValueError as exc:
            raise UserError(f"{where}: hostIP {port.host_ip!r} is not an IPv4 address",
                            hint="give an IPv4 address of this host, or leave hostIP out") from exc
    if rootless and port.host_port < unprivileged_port_start():
        raise UserError(f"{where}: hostPort {port.host_port} is privileged and kubeplay runs rootless",
                        hint=f"use a hostPort >= {unprivileged_port_start()}, or run as root")
    return PortClaim(pod_name, protocol, int(port.host_port), host_ip)


def unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


def probe_host_port(claim: PortClaim) -> None:
    """Bind the port as the pod would be reached; a host program holding it makes this fail."""
    kind = socket.SOCK_STREAM if claim.protocol == "TCP" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        # TIME_WAIT leftovers are no conflict; a listening socket still is
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((claim.host_ip or "0.0.0.0", claim.host_port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                holder = socket_owner(claim.protocol, claim.host_port) or "another program"
                raise ConflictError(f"hostPort {claim.describe()} is in use on the host by {holder}",
                                    hint="stop that program or choose another hostPort") from exc
            if exc.errno == errno.EADDRNOTAVAIL:
                raise UserError(f"hostIP {claim.host_ip} is not an address of this host",
                                hint="use an address shown by `ip addr`, or leave hostIP out") from exc
            raise UserError(f"cannot use hostPort {claim.describe()}: {exc.strerror}",
                            hint="choose another hostPort") from exc


def socket_owner(protocol: str, port: int) -> str | None:
    """'process NAME (pid N)' bound to the port, found through /proc; None if not found in time."""
    inodes = _socket_inodes(protocol, port)
    if not inodes:
        return None
    deadline = time.monotonic() + _OWNER_SCAN_SECONDS
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        if time.monotonic() > deadline:
            return None
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = Path(f"/proc/{pid}/comm").read_text().strip()
                    return f"process {name} (pid {pid})"
        except OSError:
            continue  # gone, or not ours to read
    return None


def _socket_inodes(protocol: str, port: int) -> set[str]:
    inodes = set()
    base = "tcp" if protocol == "TCP" else "udp"
    for table in (base, base + "6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN for TCP, UDP sockets have 07
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                if base == "udp" or fields[3] == "0A":
                    inodes.add(fields[9])
    return inodes

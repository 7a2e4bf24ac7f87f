"""Subnet arithmetic for bridge networks: parsing, overlap checks, picking a free /24, host routes.

Pure apart from `host_routes`, which reads /proc/net/route (no root, no netlink needed).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import ConflictError, UserError

DEFAULT_SUBNET = "10.89.0.0/24"
# the default network walks 10.89.0.0/24, 10.89.1.0/24, ... until one touches nothing
DEFAULT_POOL = "10.89.0.0/16"
NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")
RESERVED_NAMES = ("none", "host")


@dataclass(frozen=True)
class HostRoute:
    """A route of the host: where a subnet is reached."""

    destination: ipaddress.IPv4Network
    device: str


def check_network_name(name: str) -> None:
    if name in RESERVED_NAMES:
        raise UserError(f"network name \"{name}\" is reserved", hint="choose another name")
    if not NETWORK_NAME.match(name):
        raise UserError(
            f"invalid network name \"{name}\"",
            hint="use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """An IPv4 subnet from /8 to /30 given as its network address (10.89.5.0/24, not 10.89.5.7/24)."""
    try:
        subnet = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise UserError(
            f"invalid subnet {text!r}: {exc}",
            hint="give an IPv4 network in CIDR form with host bits zero, e.g. 10.89.5.0/24",
        ) from exc
    if subnet.version != 4:
        raise UserError(f"subnet {text!r} is IPv6; kubeplay bridge networks are IPv4 only",
                        hint="give an IPv4 subnet, e.g. 10.89.5.0/24")
    if not 8 <= subnet.prefixlen <= 30:
        raise UserError(f"subnet {text!r} has prefix /{subnet.prefixlen}: need /8 to /30",
                        hint="a /30 holds the gateway and one pod; /24 is usual")
    if subnet.is_loopback or subnet.is_multicast or subnet.is_link_local or subnet.is_reserved:
        raise UserError(f"subnet {text!r} is a loopback, multicast, link-local or reserved range",
                        hint="use a private range such as 10.89.5.0/24 or 172.30.0.0/24")
    return subnet


def gateway_of(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """The bridge's address: the first host address (.1 of a /24)."""
    return subnet.network_address + 1


def pod_addresses(subnet: ipaddress.IPv4Network) -> Iterator[str]:
    """Addresses a pod may get, in order: every host address but the gateway (network and
    broadcast are never hosts)."""
    gateway = gateway_of(subnet)
    for address in subnet.hosts():
        if address != gateway:
            yield str(address)


def find_overlap(
    subnet: ipaddress.IPv4Network,
    networks: Iterable[tuple[str, str]],
    routes: Iterable[HostRoute],
    own_bridges: Iterable[str] = (),
) -> str | None:
    """Who `subnet` collides with, as a phrase, or None: kubeplay networks, then host routes.

    Routes through kubeplay's own bridges are skipped: their subnets are checked as networks.
    """
    for name, other in networks:
        if subnet.overlaps(ipaddress.ip_network(other)):
            return f"kubeplay network \"{name}\" ({other})"
    bridges = set(own_bridges)
    for route in routes:
        if route.device in bridges or route.destination.prefixlen == 0:
            continue
        if subnet.overlaps(route.destination):
            return f"the host route {route.destination} on {route.device}"
    return None


def check_free(subnet: ipaddress.IPv4Network, networks: Iterable[tuple[str, str]],
               routes: Iterable[HostRoute], own_bridges: Iterable[str] = ()) -> None:
    holder = find_overlap(subnet, list(networks), routes, own_bridges)
    if holder:
        raise ConflictError(
            f"subnet {subnet} overlaps {holder}",
            hint="choose a subnet that no kubeplay network or host route uses (see `ip route`)",
        )


def pick_free_subnet(networks: Iterable[tuple[str, str]], routes: Iterable[HostRoute],
                     own_bridges: Iterable[str] = ()) -> ipaddress.IPv4Network:
    """10.89.0.0/24 if free, else the next free 10.89.x.0/24."""
    networks, routes = list(networks), list(routes)
    for candidate in ipaddress.ip_network(DEFAULT_POOL).subnets(new_prefix=24):
        if find_overlap(candidate, networks, routes, own_bridges) is None:
            return candidate
    raise ConflictError(
        f"no free /24 left in {DEFAULT_POOL} for the default network",
        hint="create a network with an explicit --subnet and play with --network",
    )


def parse_proc_route(text: str) -> list[HostRoute]:
    """Routes of /proc/net/route: hex little-endian destination and mask per line."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
            mask = socket.inet_ntoa(struct.pack("<I", int(fields[7], 16)))
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        except (ValueError, struct.error):
            continue
        routes.append(HostRoute(destination=network, device=fields[0]))
    return routes


def host_routes(path: Path = Path("/proc/net/route")) -> list[HostRoute]:
    try:
        return parse_proc_route(path.read_text())
    except OSError:
        return []  # no /proc/net/route (unusual): only kubeplay's own networks are checked

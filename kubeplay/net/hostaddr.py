"""The host's own IPv4 address, as the kubelet picks a node's: the address of the interface that
carries the default route, else of the first interface that has one, else loopback.

Read from /proc/net/route and one ioctl per interface: no name lookup (which could ask a DNS server
about this host) and no netlink library."""

from __future__ import annotations

import fcntl
import socket
import struct

_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_ROUTES = "/proc/net/route"


def host_address() -> str:
    for interface in _default_route_interfaces() + [name for _, name in socket.if_nameindex()]:
        address = interface_address(interface)
        if address and not address.startswith("127."):
            return address
    return "127.0.0.1"


def _default_route_interfaces() -> list[str]:
    """Interfaces of the IPv4 default routes, lowest metric first."""
    try:
        with open(_ROUTES, encoding="ascii") as routes:
            rows = [line.split() for line in routes.readlines()[1:]]
    except OSError:
        return []
    defaults = [(int(row[6]), row[0]) for row in rows if len(row) > 7 and row[1] == "00000000" and row[7] == "00000000"]
    return [name for _, name in sorted(defaults)]


def interface_address(interface: str) -> str | None:
    """The primary IPv4 address of `interface`, or None when it has none (or is gone)."""
    return _interface_ioctl(interface, _SIOCGIFADDR)


def interface_prefix(interface: str) -> tuple[str, int] | None:
    """The primary IPv4 address of `interface` with its prefix length, or None when it has none."""
    address = _interface_ioctl(interface, _SIOCGIFADDR)
    netmask = _interface_ioctl(interface, _SIOCGIFNETMASK)
    if address is None or netmask is None:
        return None
    return address, int.from_bytes(socket.inet_aton(netmask), "big").bit_count()


def _interface_ioctl(interface: str, request_code: int) -> str | None:
    request = struct.pack("256s", interface.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            reply = fcntl.ioctl(sock.fileno(), request_code, request)
        except OSError:
            return None
    return socket.inet_ntoa(reply[20:24])

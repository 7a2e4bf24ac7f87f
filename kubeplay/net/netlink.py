"""The rtnetlink requests a pod network needs (links, addresses, routes), through pyroute2's IPRoute.

A session belongs to the network namespace of the thread that opens it, so work inside a pod's
namespace opens it from `netns.run_in_netns`. Any error of a request becomes a HostError naming
what was being done, with the kernel's errno kept on the cause (`netlink_code`).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import HostError, KubeplayError

RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # how `ip route add` marks the routes it adds


class NetlinkFailure(OSError):
    """The kernel refused a request; `errno` says why."""


class RouteSession:
    """One NETLINK_ROUTE socket in the calling thread's network namespace."""

    def __init__(self) -> None:
        # pyroute2 is imported here, by the commands that change links, and by no other command
        from pyroute2 import IPRoute, NetlinkError

        self._refusal = NetlinkError
        self._ipr = IPRoute()

    def close(self) -> None:
        self._ipr.close()

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except self._refusal as exc:
            raise NetlinkFailure(exc.code, os.strerror(exc.code)) from exc

    def add_link(self, name: str, kind: str, *, peer: str = "", peer_netns_fd: int | None = None,
                 peer_address: str | None = None) -> None:
        """A new link; a veth's `peer` end is created directly in the namespace `peer_netns_fd`,
        with the MAC `peer_address` when given."""
        attributes: dict = {"ifname": name, "kind": kind}
        if peer:
            peer_attributes: dict = {"ifname": peer}
            if peer_netns_fd is not None:
                peer_attributes["net_ns_fd"] = peer_netns_fd
            if peer_address is not None:
                peer_attributes["address"] = peer_address
            attributes["peer"] = peer_attributes
        self._call(self._ipr.link, "add", **attributes)

    def set_link(self, index: int, *, up: bool = True, master: int | None = None) -> None:
        attributes: dict = {"index": index, "state": "up" if up else "down"}
        if master is not None:
            attributes["master"] = master
        self._call(self._ipr.link, "set", **attributes)

    def delete_link(self, index: int) -> None:
        self._call(self._ipr.link, "del", index=index)

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        self._call(self._ipr.addr, "add", index=index, address=address, prefixlen=prefixlen)

    def addresses(self, index: int) -> list[tuple[str, int]]:
        """The IPv4 addresses of a link, with their prefix lengths."""
        found = self._call(self._ipr.get_addr, family=socket.AF_INET, index=index)
        return [(message.get_attr("IFA_ADDRESS"), message["prefixlen"]) for message in found]

    def add_default_route(self, gateway: str, index: int) -> None:
        self._call(self._ipr.route, "add", gateway=gateway, oif=index, table=RT_TABLE_MAIN, proto=RTPROT_BOOT)


def link_index(name: str) -> int | None:
    """The index of link `name` in the calling thread's network namespace, None when absent."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


@contextmanager
def rtnl(doing: str) -> Iterator[RouteSession]:
    """A RouteSession in the calling thread's network namespace; `doing` names the step."""
    try:
        session = RouteSession()
    except OSError as exc:
        raise HostError(f"{doing}: cannot open netlink: {exc}",
                        hint="kubeplay's root networking needs root (CAP_NET_ADMIN)") from exc
    try:
        yield session
    except KubeplayError:
        raise
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        hint = "run as root" if exc.errno == errno.EPERM else "check `ip link` and `dmesg` on the host"
        raise HostError(f"{doing}: {reason}", hint=hint) from exc
    finally:
        session.close()


def netlink_code(exc: BaseException) -> int | None:
    """The errno of a translated netlink failure, to tell 'already gone' from real failures."""
    code = getattr(exc.__cause__, "errno", None)
    return code if isinstance(code, int) else None


def write_sysctl(key: str, value: str, why: str) -> None:
    """Set /proc/sys/<key> if it differs; `why` goes into the error so the user knows the reason."""
    path = Path("/proc/sys") / key.replace(".", "/")
    try:
        if path.read_text().strip() == value:
            return
        path.write_text(value)
    except OSError as exc:
        raise HostError(f"cannot set {key}={value} ({why}): {exc}",
                        hint=f"run as root, or set it yourself: sysctl -w {key}={value}") from exc

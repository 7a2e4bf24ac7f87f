"""A small rtnetlink session: the few link, address and route requests a pod network needs.

Messages are built and parsed by pyroute2's rtnetlink message classes; the session itself is a
plain NETLINK_ROUTE socket. pyroute2's package `__init__` imports every socket family it knows
(conntrack, ndb, ipvs, nl80211, asyncio...), ~0.3 s of CPU on each play and down, while the
message classes alone load in ~35 ms: `_message_classes` enters the package without running its
`__init__`. A session belongs to the network namespace of the thread that opens it, so work inside
a pod's namespace opens it from `netns.run_in_netns`. Any error of a request becomes a HostError
naming what was being done, with the kernel's errno kept on the cause (`netlink_code`).
"""

from __future__ import annotations

import errno
import functools
import importlib.util
import os
import socket
import struct
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import HostError, KubeplayError

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_ERROR_CODE = struct.Struct("=i")
RECEIVE_BUFFER = 1 << 16
ANSWER_TIMEOUT = 10.0  # seconds; the kernel answers at once, but no wait here may be unbounded
_import_guard = threading.Lock()


class NetlinkFailure(OSError):
    """The kernel refused a request; `errno` says why."""


@functools.cache
def _message_classes() -> types.SimpleNamespace:
    with _import_guard:
        if "pyroute2" not in sys.modules:
            spec = importlib.util.find_spec("pyroute2")
            if spec is None or not spec.submodule_search_locations:
                raise HostError("the pyroute2 package is missing",
                                hint="reinstall kubeplay (`make test` or `pip install -e .` sets it up)")
            package = types.ModuleType("pyroute2")
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            package.__package__ = "pyroute2"
            sys.modules["pyroute2"] = package
        from pyroute2 import netlink
        from pyroute2.netlink import rtnl
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
        from pyroute2.netlink.rtnl.rtmsg import rtmsg
    return types.SimpleNamespace(netlink=netlink, rtnl=rtnl, ifinfmsg=_link_message(netlink),
                                 ifaddrmsg=ifaddrmsg, rtmsg=rtmsg, IFF_UP=1)


def _link_message(netlink: types.ModuleType) -> type:
    """struct ifinfomsg with the few IFLA_* attributes kubeplay sends, declared with pyroute2's
    message classes: its own ifinfmsg loads a plugin per link kind it knows (~20 ms)."""
    ifinfo_fields = (("family", "B"), ("__align", "x"), ("ifi_type", "H"), ("index", "i"), ("flags", "I"),
                     ("change", "I"))

    class link_message(netlink.nlmsg):  # type: ignore[name-defined,misc]
        prefix = "IFLA_"
        fields = ifinfo_fields
        nla_map = ((3, "IFLA_IFNAME", "asciiz"), (10, "IFLA_MASTER", "uint32"),
                   (18, "IFLA_LINKINFO", "link_info"), (28, "IFLA_NET_NS_FD", "uint32"))

        class link_info(netlink.nla):  # type: ignore[name-defined,misc]
            prefix = "IFLA_INFO_"
            nla_map = ((1, "IFLA_INFO_KIND", "asciiz"), (2, "IFLA_INFO_DATA", "veth_data"))

            class veth_data(netlink.nla):  # type: ignore[name-defined,misc]
                nla_map = ((1, "VETH_INFO_PEER", "peer"),)

                class peer(netlink.nla):  # type: ignore[name-defined,misc]
                    prefix = "IFLA_"
                    fields = ifinfo_fields
                    nla_map = ((1, "IFLA_ADDRESS", "l2addr"), (3, "IFLA_IFNAME", "asciiz"),
                               (28, "IFLA_NET_NS_FD", "uint32"))

    return link_message


class RouteSession:
    """One NETLINK_ROUTE socket in the calling thread's network namespace."""

    def __init__(self) -> None:
        self._m = _message_classes()
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._socket.bind((0, 0))
        self._socket.settimeout(ANSWER_TIMEOUT)  # a silent kernel becomes an OSError, not a hang
        self._sequence = 0

    def close(self) -> None:
        self._socket.close()

    def _request(self, message, kind: int, flags: int) -> list[bytes]:
        """Send one request; return the messages of its answer (a dump), or [] once it is acked."""
        nl = self._m.netlink
        self._sequence += 1
        message["header"]["type"] = kind
        message["header"]["flags"] = nl.NLM_F_REQUEST | flags
        message["header"]["sequence_number"] = self._sequence
        message.encode()
        self._socket.send(message.data)
        answer: list[bytes] = []
        while True:
            data = self._socket.recv(RECEIVE_BUFFER)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, reply_type, _, sequence, _ = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    raise NetlinkFailure(errno.EPROTO, "malformed netlink answer")
                if sequence == self._sequence:
                    if reply_type == nl.NLMSG_ERROR:
                        (code,) = _ERROR_CODE.unpack_from(data, offset + _HEADER.size)
                        if code:
                            raise NetlinkFailure(-code, os.strerror(-code))
                        return answer
                    if reply_type == nl.NLMSG_DONE:
                        return answer
                    answer.append(bytes(data[offset:offset + length]))
                offset += (length + 3) & ~3

    def _change(self, message, kind: int, create: bool = False) -> None:
        nl = self._m.netlink
        flags = nl.NLM_F_ACK | (nl.NLM_F_CREATE | nl.NLM_F_EXCL if create else 0)
        self._request(message, kind, flags)

    def add_link(self, name: str, kind: str, *, peer: str = "", peer_netns_fd: int | None = None,
                 peer_address: str | None = None) -> None:
        """A new link; a veth's `peer` end is created directly in the namespace `peer_netns_fd`,
        with the MAC `peer_address` when given."""
        info: list = [("IFLA_INFO_KIND", kind)]
        if peer:
            peer_attrs: list = [("IFLA_IFNAME", peer)]
            if peer_netns_fd is not None:
                peer_attrs.append(("IFLA_NET_NS_FD", peer_netns_fd))
            if peer_address is not None:
                peer_attrs.append(("IFLA_ADDRESS", peer_address))
            info.append(("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": peer_attrs})]}))
        message = self._m.ifinfmsg()
        message["attrs"] = [("IFLA_IFNAME", name), ("IFLA_LINKINFO", {"attrs": info})]
        self._change(message, self._m.rtnl.RTM_NEWLINK, create=True)

    def set_link(self, index: int, *, up: bool = True, master: int | None = None) -> None:
        message = self._m.ifinfmsg()
        message["index"] = index
        message["change"] = self._m.IFF_UP
        message["flags"] = self._m.IFF_UP if up else 0
        if master is not None:
            message["attrs"] = [("IFLA_MASTER", master)]
        self._change(message, self._m.rtnl.RTM_NEWLINK)

    def delete_link(self, index: int) -> None:
        message = self._m.ifinfmsg()
        message["index"] = index
        self._change(message, self._m.rtnl.RTM_DELLINK)

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        message = self._m.ifaddrmsg()
        message["family"] = socket.AF_INET
        message["index"] = index
        message["prefixlen"] = prefixlen
        message["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
        self._change(message, self._m.rtnl.RTM_NEWADDR, create=True)

    def addresses(self, index: int) -> list[tuple[str, int]]:
        """The IPv4 addresses of a link, with their prefix lengths."""
        request = self._m.ifaddrmsg()
        request["family"] = socket.AF_INET
        found = []
        for raw in self._request(request, self._m.rtnl.RTM_GETADDR, self._m.netlink.NLM_F_DUMP):
            message = self._m.ifaddrmsg(raw)
            message.decode()
            if message["index"] == index:
                found.append((message.get_attr("IFA_ADDRESS"), message["prefixlen"]))
        return found

    def add_default_route(self, gateway: str, index: int) -> None:
        message = self._m.rtmsg()
        message["family"] = socket.AF_INET
        message["table"] = 254  # RT_TABLE_MAIN
        message["proto"] = 3  # RTPROT_BOOT, as `ip route add` marks it
        message["scope"] = 0  # RT_SCOPE_UNIVERSE
        message["type"] = 1  # RTN_UNICAST
        message["attrs"] = [("RTA_TABLE", 254), ("RTA_GATEWAY", gateway), ("RTA_OIF", index)]
        self._change(message, self._m.rtnl.RTM_NEWROUTE, create=True)


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

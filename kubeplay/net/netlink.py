"""The rtnetlink requests a pod network needs (links, addresses, routes), made by iproute2's `ip`.

Each request is one short `ip` run, or several go in one (`ip -batch`): a pod's attach makes a
handful, and running the tool costs less than loading a netlink library into every play. A child
process starts in the network namespace of the thread that forks it, so work inside a pod's
namespace runs from `netns.run_in_netns`. Any refusal becomes a HostError naming what was being
done, with the kernel's errno kept on the cause (`netlink_code`).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import HostError, KubeplayError

RT_TABLE_MAIN = 254
IP_TIMEOUT = 30  # seconds; an `ip` request answers at once unless the host is stuck
# the refusals whose errno callers act on, told apart by the kernel's text that `ip` prints
KNOWN_ERRNOS = (errno.EEXIST, errno.ENODEV, errno.ENOENT, errno.EPERM, errno.EACCES, errno.EBUSY,
                errno.EINVAL, errno.EADDRNOTAVAIL, errno.ENETUNREACH, errno.EOPNOTSUPP)


class NetlinkFailure(OSError):
    """The kernel refused a request; `errno` says why."""


def refusal_errno(text: str) -> int | None:
    """The errno of a refusal as `ip` prints it ("RTNETLINK answers: File exists")."""
    if "Cannot find device" in text:
        return errno.ENODEV
    return next((code for code in KNOWN_ERRNOS if os.strerror(code) in text), None)


def run_ip(args: list[str], requests: str | None = None) -> str:
    """`ip ARGS` in the calling thread's network namespace; its output, or a NetlinkFailure.
    `requests` is its standard input (the lines of `ip -batch -`)."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT, input=requests)
    except FileNotFoundError as exc:
        raise HostError("the `ip` command is not installed", hint="install iproute2") from exc
    except subprocess.TimeoutExpired as exc:
        raise HostError(f"`ip {' '.join(args)}` did not answer within {IP_TIMEOUT} s",
                        hint="check for a stuck ip process") from exc
    if done.returncode != 0:
        text = done.stderr.strip() or f"ip exited with {done.returncode}"
        raise NetlinkFailure(refusal_errno(text) or 0, text.splitlines()[0])
    return done.stdout


def run_ip_batch(requests: list[list[str]]) -> None:
    """Several requests, in order, in one `ip` run (`ip -batch -`), which stops at the first
    refusal and reports it as run_ip does. A word the batch syntax would split or quote (a space,
    a quote, a backslash, a '#') sends every request to an `ip` run of its own instead."""
    words = [word for request in requests for word in request]
    if any(not word or any(char.isspace() or char in "\"'\\#" for char in word) for word in words):
        for request in requests:
            run_ip(request)
        return
    run_ip(["-batch", "-"], requests="".join(" ".join(request) + "\n" for request in requests))


def link_name(index: int) -> str:
    """The name of link `index` in the calling thread's network namespace."""
    try:
        return socket.if_indextoname(index)
    except OSError as exc:
        raise NetlinkFailure(errno.ENODEV, f"no link with index {index}") from exc


class RouteSession:
    """Requests in the calling thread's network namespace; links are named by their index."""

    def close(self) -> None:
        """Nothing is held between requests."""

    def add_link(self, name: str, kind: str, *, peer: str = "", peer_netns: Path | None = None,
                 peer_address: str | None = None) -> None:
        """A new link; a veth's `peer` end is created directly in the namespace mounted at
        `peer_netns`, with the MAC `peer_address` when given."""
        args = ["link", "add", name, "type", kind]
        if peer:
            args += ["peer", "name", peer]
            if peer_netns is not None:
                args += ["netns", str(peer_netns)]  # a path: `ip` opens it as the namespace
            if peer_address is not None:
                args += ["address", peer_address]
        run_ip(args)

    def add_veth_to_bridge(self, name: str, bridge: int, *, peer: str, peer_netns: Path,
                           peer_address: str | None = None) -> None:
        """A veth pair whose end `name` joins the bridge of index `bridge` and comes up, and whose
        end `peer` is created in the namespace mounted at `peer_netns`: one `ip` run."""
        add = ["link", "add", name, "type", "veth", "peer", "name", peer, "netns", str(peer_netns)]
        if peer_address is not None:
            add += ["address", peer_address]
        run_ip_batch([add, ["link", "set", "dev", name, "master", link_name(bridge), "up"]])

    def configure_interface(self, index: int, address: str, prefixlen: int, gateway: str) -> None:
        """Link `index` gets the address, comes up, and carries the default route via `gateway`:
        one `ip` run."""
        name = link_name(index)
        run_ip_batch([["addr", "add", f"{address}/{prefixlen}", "dev", name],
                      ["link", "set", "dev", name, "up"],
                      self._default_route(gateway, name)])

    def set_link(self, index: int, *, up: bool = True, master: int | None = None) -> None:
        args = ["link", "set", "dev", link_name(index)]
        if master is not None:
            args += ["master", link_name(master)]
        run_ip(args + ["up" if up else "down"])

    def delete_link(self, index: int) -> None:
        run_ip(["link", "del", "dev", link_name(index)])

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        run_ip(["addr", "add", f"{address}/{prefixlen}", "dev", link_name(index)])

    def addresses(self, index: int) -> list[tuple[str, int]]:
        """The IPv4 addresses of a link, with their prefix lengths."""
        text = run_ip(["-j", "-4", "addr", "show", "dev", link_name(index)])
        try:
            links = json.loads(text or "[]")
        except ValueError as exc:
            raise HostError(f"`ip -j addr` printed JSON kubeplay cannot read: {exc}",
                            hint="check the iproute2 version") from exc
        return [(info["local"], info["prefixlen"]) for link in links for info in link.get("addr_info", [])
                if info.get("family") == "inet"]

    def add_default_route(self, gateway: str, index: int) -> None:
        run_ip(self._default_route(gateway, link_name(index)))

    @staticmethod
    def _default_route(gateway: str, device: str) -> list[str]:
        # proto boot, as `ip route add` marks the routes it adds
        return ["route", "add", "default", "via", gateway, "dev", device, "table", str(RT_TABLE_MAIN), "proto", "boot"]


def link_index(name: str) -> int | None:
    """The index of link `name` in the calling thread's network namespace, None when absent."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


@contextmanager
def rtnl(doing: str) -> Iterator[RouteSession]:
    """A RouteSession in the calling thread's network namespace; `doing` names the step."""
    session = RouteSession()
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

"""port-forward: local TCP ports on 127.0.0.1 carried into a pod's network namespace, as
`kubectl port-forward` does, with no hostPort and no rule on the host.

Each accepted connection gets a socket made inside the pod's network namespace (a socket belongs
to the namespace it was created in, whichever thread uses it later; see net.netns.run_in_netns),
which connects to the port on the pod's loopback. Bytes are moved by two threads per connection
with splice(2), so they go from socket to socket through a kernel pipe without being copied into
Python. A refused connection is reported and closed; forwarding goes on until the caller stops,
or until the caller's `follow` (pods/forwardroute.py) finds the pod gone and ends it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import ConflictError, HostError, NotFoundError, UserError
from kubeplay.model.record import PodRecord
from kubeplay.names import pod_label

LISTEN_ADDRESS = "127.0.0.1"  # what kubectl's default --address, localhost, binds (its ::1 too, when IPv6 is up)
CHUNK = 1 << 20  # bytes asked of one splice; the pipe moves at most its own size per call
PIPE_SIZE = 1 << 20
CONNECT_TIMEOUT = 10.0
FOLLOW_INTERVAL = 1.0  # seconds between two looks at whether the pod is still there
PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")  # a Kubernetes port name (IANA service name)


@dataclass(frozen=True)
class PortPair:
    """One forwarded port: `local` on 127.0.0.1 (0: any free one) to `remote` in the pod."""

    local: int
    remote: int | str  # a number, or the name of a container port (or Service port) to look up


def parse_port_pairs(specs: list[str]) -> list[PortPair]:
    """`REMOTE`, `LOCAL:REMOTE` or `:REMOTE` (any free local port), as kubectl takes them."""
    pairs = []
    for spec in specs:
        local_text, colon, remote_text = spec.rpartition(":")
        if not colon:
            local_text = remote_text
        remote: int | str = int(remote_text) if remote_text.isdigit() else remote_text
        if not (0 < remote < 65536 if isinstance(remote, int) else PORT_NAME.match(remote)):
            raise UserError(f"port-forward: {spec!r}: the pod's port must be 1-65535 or a port name",
                            hint="write [LOCAL:]REMOTE, e.g. 8080:80, 80 or :80 (any free local port)")
        if isinstance(remote, str) and not colon:
            raise UserError(f"port-forward: {spec!r}: a named port needs a local port",
                            hint="write LOCAL:NAME, e.g. 8080:http")
        if local_text and not (local_text.isdigit() and 0 < int(local_text) < 65536):
            raise UserError(f"port-forward: {spec!r}: the local port must be 1-65535",
                            hint="write [LOCAL:]REMOTE, e.g. 8080:80, or :80 for any free local port")
        pairs.append(PortPair(int(local_text) if local_text else 0, remote))
    if not pairs:
        raise UserError("port-forward: no port given", hint="write [LOCAL:]REMOTE, e.g. 8080:80")
    return pairs


def named_port(pod: PodRecord, name: str) -> int:
    """The container port of the pod called `name`."""
    for container in pod.plan.all_containers:
        for port in container.ports:
            if port.name == name:
                return port.container_port
    raise NotFoundError(f'pod "{pod_label(pod.name)}" has no port named "{name}"',
                        hint="name a port listed under the containers' ports, or give its number")


@dataclass(frozen=True)
class Route:
    """Where new connections go: the pod (its id tells a new pod of the same name apart), its network
    namespace (None: the host's own, for a hostNetwork pod), and the pod's port for each local one."""

    pod_name: str
    pod_id: str
    netns: Path | None
    remotes: tuple[int, ...]


class Forwarder:
    """The listening sockets of one port-forward, and the connections they carry into the pod."""

    def __init__(self, route: Route, local_ports: list[int], report: Callable[[str], None],
                 addresses: tuple[str, ...] = (LISTEN_ADDRESS,)) -> None:
        self.route = route
        self.locals = local_ports  # one per remote of the route; 0: any free port
        self.report = report
        self.addresses = addresses  # each local port is listened on at each of them
        self.listeners: list[tuple[socket.socket, int]] = []  # with the index of its port
        self.selector = selectors.DefaultSelector()

    def listen(self) -> list[tuple[str, int, int]]:
        """Bind every local port at every address, or none: a busy one is refused, naming the program
        holding it. Returns (address, local, remote), with the port picked for 0 (the same at every
        address, as kubectl)."""
        bound = []
        try:
            for index, local in enumerate(self.locals):
                for address in self.addresses:
                    listener = _listen(address, local)
                    local = listener.getsockname()[1]
                    self.listeners.append((listener, index))
                    bound.append((address, local, self.route.remotes[index]))
        except BaseException:
            self.close()
            raise
        for listener, index in self.listeners:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, index)
        return bound

    def serve(self, stop: threading.Event | None = None, follow: Callable[[Route], Route] | None = None) -> None:
        """Accept and carry connections until `stop` is set (or forever: the caller's Ctrl-C ends it).
        Every FOLLOW_INTERVAL, `follow` is given the route and returns the one to use from then on; it
        ends forwarding by raising (the pod is gone and nothing can take its place)."""
        import time

        next_look = time.monotonic() + FOLLOW_INTERVAL
        while stop is None or not stop.is_set():
            for key, _ in self.selector.select(timeout=0.5):
                try:
                    client, _ = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                client.setblocking(True)
                threading.Thread(target=self._carry, args=(client, self.route, key.data), daemon=True,
                                 name="port-forward").start()
            if follow is not None and time.monotonic() >= next_look:
                self.route = follow(self.route)
                next_look = time.monotonic() + FOLLOW_INTERVAL

    def close(self) -> None:
        for listener, _ in self.listeners:
            try:
                self.selector.unregister(listener)
            except (KeyError, ValueError):
                pass
            listener.close()
        self.listeners = []
        self.selector.close()

    def _carry(self, client: socket.socket, route: Route, index: int) -> None:
        address, local = client.getsockname()[:2]
        remote = route.remotes[index]
        try:
            upstream = _connect(route.netns, remote)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            self.report(f"forwarding {host_port(address, local)} -> pod {route.pod_name} port {remote}: "
                        f"{reason.lower()}; still forwarding")
            client.close()
            return
        except Exception as exc:  # a namespace that went away: say so, keep the other connections
            self.report(f"forwarding {host_port(address, local)} -> pod {route.pod_name} port {remote}: {exc}")
            client.close()
            return
        relay(client, upstream)


def _connect(netns: Path | None, remote: int) -> socket.socket:
    if netns is None:
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    else:
        from kubeplay.net.netns import run_in_netns

        upstream = run_in_netns(netns, socket.socket, socket.AF_INET, socket.SOCK_STREAM)
    try:
        upstream.settimeout(CONNECT_TIMEOUT)
        upstream.connect(("127.0.0.1", remote))
        upstream.settimeout(None)
    except BaseException:
        upstream.close()
        raise
    return upstream


def host_port(address: str, port: int) -> str:
    """127.0.0.1:8080, [::1]:8080."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def listen_addresses(text: str) -> tuple[str, ...]:
    """--address: IP addresses and `localhost` (127.0.0.1), comma-separated, as kubectl takes them."""
    import ipaddress

    found: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        if part == "localhost":
            part = LISTEN_ADDRESS
        try:
            address = str(ipaddress.ip_address(part))
        except ValueError:
            raise UserError(f"--address {text!r}: {part!r} is not an IP address or localhost",
                            hint="write e.g. --address localhost,192.168.1.5 or --address 0.0.0.0") from None
        if address not in found:
            found.append(address)
    return tuple(found)


def _listen(address: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT leftover holds nothing
    try:
        if ":" in address:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # :: beside 0.0.0.0 takes IPv6 only
        listener.bind((address, port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            from kubeplay.net.ports import socket_owner

            holder = socket_owner("TCP", port) or "another program"
            raise ConflictError(f"local port {port} is in use by {holder}",
                                hint="pick another local port (LOCAL:REMOTE), or :REMOTE for any free one") from exc
        raise HostError(f"cannot listen on {host_port(address, port)}: {exc.strerror}",
                        hint="ports below 1024 need root, and an address must be one of this host's") from exc
    return listener


def relay(first: socket.socket, second: socket.socket) -> None:
    """Carry bytes both ways until both sides are done, then close both."""
    other = threading.Thread(target=_pump, args=(second, first), daemon=True, name="port-forward-back")
    other.start()
    _pump(first, second)
    other.join()
    first.close()
    second.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Move bytes from `source` to `target` until `source` ends; then end `target`'s writing side."""
    try:
        _splice_all(source, target)
    except OSError:
        pass  # a reset or a closed peer ends this direction like an end of stream
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _splice_all(source: socket.socket, target: socket.socket) -> None:
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # fewer, larger moves
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size for an unprivileged user: the default size works too
    try:
        while True:
            try:
                moved = os.splice(source.fileno(), write_end, CHUNK)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                _copy_all(source, target)  # a socket kind splice(2) does not take
                return
            if moved == 0:
                return
            while moved:
                moved -= os.splice(read_end, target.fileno(), moved)
    finally:
        os.close(read_end)
        os.close(write_end)


def _copy_all(source: socket.socket, target: socket.socket) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        count = source.recv_into(buffer)
        if count == 0:
            return
        target.sendall(view[:count])


def remote_port(pod: PodRecord, service, remote: int | str) -> int:
    """The pod's port for REMOTE: itself, the pod's port of that name, or (through `service`) the
    target port of the Service's port of that number or name."""
    if service is None:
        return remote if isinstance(remote, int) else named_port(pod, remote)
    from kubeplay.model.endpoints import target_port

    port = next((p for p in service.ports if p.port == remote or (p.name and p.name == remote)), None)
    if port is None:
        raise NotFoundError(f'service "{service.name}" has no port {remote}',
                            hint="its ports: " + ", ".join(p.describe() for p in service.ports))
    number = target_port(port, pod)
    if number is None:
        raise NotFoundError(f'pod "{pod_label(pod.name)}" has no port named "{port.target_port}" (service "{service.name}")',
                            hint="name the container port in the pod, or give the number")
    return number

"""port-forward: local TCP ports on 127.0.0.1 carried into a pod's network namespace, as
`kubectl port-forward` does, with no hostPort and no rule on the host.

Each accepted connection gets a socket made inside the pod's network namespace (a socket belongs
to the namespace it was created in, whichever thread uses it later; see net.netns.run_in_netns),
which connects to the port on the pod's loopback. Bytes are moved by two threads per connection
with splice(2), so they go from socket to socket through a kernel pipe without being copied into
Python. A refused connection is reported and closed; forwarding goes on until the caller stops.
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

LISTEN_ADDRESS = "127.0.0.1"
CHUNK = 1 << 20  # bytes asked of one splice; the pipe moves at most its own size per call
PIPE_SIZE = 1 << 20
CONNECT_TIMEOUT = 10.0
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
    raise NotFoundError(f'pod "{pod.name}" has no port named {name!r}',
                        hint="name a port listed under the containers' ports, or give its number")


class Forwarder:
    """The listening sockets of one port-forward, and the connections they carry into the pod."""

    def __init__(self, pod_name: str, netns: Path | None, pairs: list[tuple[int, int]],
                 report: Callable[[str], None]) -> None:
        self.pod_name = pod_name
        self.netns = netns  # None: the host's own (a hostNetwork pod)
        self.pairs = pairs
        self.report = report
        self.listeners: list[tuple[socket.socket, int]] = []
        self.selector = selectors.DefaultSelector()

    def listen(self) -> list[tuple[int, int]]:
        """Bind every local port, or none: a busy one is refused, naming the program holding it.
        Returns (local, remote) with the local ports that were picked for 0."""
        bound = []
        try:
            for local, remote in self.pairs:
                listener = _listen(local)
                self.listeners.append((listener, remote))
                bound.append((listener.getsockname()[1], remote))
        except BaseException:
            self.close()
            raise
        for listener, remote in self.listeners:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, remote)
        return bound

    def serve(self, stop: threading.Event | None = None) -> None:
        """Accept and carry connections until `stop` is set (or forever: the caller's Ctrl-C ends it)."""
        while stop is None or not stop.is_set():
            for key, _ in self.selector.select(timeout=0.5):
                try:
                    client, _ = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                client.setblocking(True)
                threading.Thread(target=self._carry, args=(client, key.data), daemon=True,
                                 name="port-forward").start()

    def close(self) -> None:
        for listener, _ in self.listeners:
            try:
                self.selector.unregister(listener)
            except (KeyError, ValueError):
                pass
            listener.close()
        self.listeners = []
        self.selector.close()

    def _carry(self, client: socket.socket, remote: int) -> None:
        local = client.getsockname()[1]
        try:
            upstream = self._connect(remote)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            self.report(f"forwarding {LISTEN_ADDRESS}:{local} -> pod {self.pod_name} port {remote}: "
                        f"{reason.lower()}; still forwarding")
            client.close()
            return
        except Exception as exc:  # a namespace that went away: say so, keep the other connections
            self.report(f"forwarding {LISTEN_ADDRESS}:{local} -> pod {self.pod_name} port {remote}: {exc}")
            client.close()
            return
        relay(client, upstream)

    def _connect(self, remote: int) -> socket.socket:
        if self.netns is None:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            from kubeplay.net.netns import run_in_netns

            upstream = run_in_netns(self.netns, socket.socket, socket.AF_INET, socket.SOCK_STREAM)
        try:
            upstream.settimeout(CONNECT_TIMEOUT)
            upstream.connect(("127.0.0.1", remote))
            upstream.settimeout(None)
        except BaseException:
            upstream.close()
            raise
        return upstream


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT leftover holds nothing
    try:
        listener.bind((LISTEN_ADDRESS, port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            from kubeplay.net.ports import socket_owner

            holder = socket_owner("TCP", port) or "another program"
            raise ConflictError(f"local port {port} is in use by {holder}",
                                hint="pick another local port (LOCAL:REMOTE), or :REMOTE for any free one") from exc
        raise HostError(f"cannot listen on {LISTEN_ADDRESS}:{port}: {exc.strerror}",
                        hint="ports below 1024 need root; pick a higher local port") from exc
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


def prepare_forward(engine, reference: str, specs: list[str], report: Callable[[str], None],
                    namespace: str = "default") -> Forwarder:
    """A Forwarder into the pod `reference` names in `namespace` (NAME, pod/NAME, deploy/NAME, svc/NAME...) for the
    ports `specs`; with svc/NAME, REMOTE is the Service's port (number or name), sent to its target
    port on the chosen pod, as kubectl does."""
    from kubeplay.model.record import PodPhase
    from kubeplay.pods.handlers import pod_target
    from kubeplay.pods.status import reconcile_pod
    from kubeplay.pods.targets import resolve_pod, split_reference

    pairs = parse_port_pairs(specs)
    kind, name = split_reference(reference)
    pod = reconcile_pod(engine.store, engine.settings, resolve_pod(engine, reference, namespace))
    if pod.phase is not PodPhase.RUNNING:
        from kubeplay.names import pod_arguments

        raise ConflictError(f'pod "{pod.shown_name}" is not running ({pod.phase.value})',
                       hint=f"start it with `kubeplay pod start {pod_arguments(pod.namespace, pod.shown_name)}`")
    service = _service(engine, namespace, name) if kind == "Service" else None
    resolved = [(pair.local, _remote_port(pod, service, pair.remote)) for pair in pairs]
    return Forwarder(pod.shown_name, pod_target(engine.settings, pod, "").netns, resolved, report)


def _service(engine, namespace: str, name: str):
    from kubeplay.store.services import ServiceStore

    return ServiceStore(engine.db).find(namespace, name)  # resolve_pod found it


def _remote_port(pod: PodRecord, service, remote: int | str) -> int:
    if service is None:
        return remote if isinstance(remote, int) else named_port(pod, remote)
    from kubeplay.model.endpoints import target_port

    port = next((p for p in service.ports if p.port == remote or (p.name and p.name == remote)), None)
    if port is None:
        raise NotFoundError(f'service "{service.name}" has no port {remote}',
                            hint="its ports: " + ", ".join(p.describe() for p in service.ports))
    number = target_port(port, pod)
    if number is None:
        raise NotFoundError(f'pod "{pod.name}" has no port named {port.target_port!r} (service "{service.name}")',
                            hint="name the container port in the pod, or give the number")
    return number

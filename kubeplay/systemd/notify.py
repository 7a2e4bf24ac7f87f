"""The service manager's notify protocol (sd_notify), spoken without libsystemd.

A service manager that wants to hear from kubeplay sets NOTIFY_SOCKET: the path of an AF_UNIX
datagram socket, or an abstract socket name written with a leading "@". Each datagram is a few
newline-separated `KEY=value` lines: `STATUS=` (free text shown by `systemctl status`), `MAINPID=`
(the process to watch), `READY=1`, `STOPPING=1`.

`Notifier.from_environment()` takes NOTIFY_SOCKET out of the environment, so that no child (conmon,
the runtime, an exit callback) sees it: runc, finding it, would wait in `runc start` for the
container itself to say READY=1. A socket that cannot be reached is reported once, as a warning,
and the command goes on without notifying.

`NotifyRelay` is the other end, for a container that speaks the protocol itself
(`io.containers.sdnotify`): a socket in a directory bind-mounted into the container, read by the
process that stays for the service manager, which passes STATUS lines on and keeps READY=1 for
itself to send once the pods are ready too.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from kubeplay.logs import get_logger

log = get_logger(__name__)

NOTIFY_ENV = "NOTIFY_SOCKET"
# A datagram larger than this is not a notification (systemd's own limit is about as big).
MESSAGE_MAX = 4096


def socket_address(value: str) -> str | bytes:
    """NOTIFY_SOCKET's value as an address for connect/sendto: "@name" is the abstract name "\\0name"."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def format_message(**fields: str | int) -> bytes:
    """`KEY=value` lines; a value keeps to one line (a newline would start a field of its own)."""
    lines = [f"{key}={' '.join(str(value).splitlines())}" for key, value in fields.items()]
    return "\n".join(lines).encode()


def parse_message(data: bytes) -> dict[str, str]:
    """The fields of one datagram; lines without "=" are ignored, as systemd does."""
    fields = {}
    for line in data.decode(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            fields[key] = value
    return fields


class Notifier:
    """Sends notifications to the service manager; does nothing when none listens."""

    def __init__(self, address: str = "", warn: Callable[[str], None] | None = None) -> None:
        self.address = address
        self.warn = warn or log.warning
        self.broken = False
        self.sent: list[str] = []  # what was sent, for --debug logs and tests of this object

    @classmethod
    def from_environment(cls, warn: Callable[[str], None] | None = None) -> Notifier:
        return cls(os.environ.pop(NOTIFY_ENV, ""), warn)

    @property
    def active(self) -> bool:
        return bool(self.address) and not self.broken

    def notify(self, **fields: str | int) -> bool:
        """Send one datagram; False (and a single warning) when the socket cannot be reached."""
        if not self.active:
            return False
        data = format_message(**fields)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(data, socket_address(self.address))
        except OSError as exc:
            self.broken = True
            self.warn(f"{NOTIFY_ENV}={self.address} cannot be reached ({exc.strerror or exc}): "
                 "going on without notifying the service manager")
            return False
        self.sent.append(data.decode())
        log.debug("notified %s: %s", self.address, data.decode().replace("\n", " "))
        return True

    def status(self, text: str) -> None:
        self.notify(STATUS=text)

    def ready(self, main_pid: int | None = None, status: str = "") -> None:
        fields: dict[str, str | int] = {}
        if main_pid is not None:
            fields["MAINPID"] = main_pid
        fields["READY"] = 1
        if status:
            fields["STATUS"] = status
        self.notify(**fields)

    def stopping(self, status: str = "") -> None:
        self.notify(STOPPING=1, **({"STATUS": status} if status else {}))


class NotifyRelay:
    """A datagram socket a container sends its own notifications to (bound in `directory`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.path = directory / "notify.sock"
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(str(self.path))
        # the container's process may run as any user: it must be able to send here
        os.chmod(self.path, 0o777)
        self.sock.setblocking(False)
        self.ready = False
        self.status = ""

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> list[dict[str, str]]:
        """Every datagram waiting, parsed; READY=1 and the last STATUS are remembered."""
        received = []
        for _ in range(64):  # bounded: a container cannot keep this loop for itself
            try:
                data = self.sock.recv(MESSAGE_MAX)
            except (BlockingIOError, InterruptedError):
                break
            fields = parse_message(data)
            if fields.get("READY") == "1":
                self.ready = True
            if "STATUS" in fields:
                self.status = fields["STATUS"]
            received.append(fields)
        return received

    def close(self) -> None:
        self.sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

"""What a service manager hands to the pods of one play: the listening sockets of socket activation,
and the notify sockets of containers that speak sd_notify themselves. Set on the Engine by the
command that plays as a service; the pods' containers are built and created with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Where a container that speaks sd_notify finds its socket: the host directory is bind-mounted there.
CONTAINER_NOTIFY_DIR = "/run/notify"
CONTAINER_NOTIFY_SOCKET = f"{CONTAINER_NOTIFY_DIR}/notify.sock"


@dataclass(frozen=True)
class Handoff:
    # (pod, container) that receives the inherited sockets, and how many there are (fds 3, 4, …)
    listen_target: tuple[str, str] | None = None
    listen_count: int = 0
    # (pod, container) -> a host directory holding the socket the container sends its notifications to
    notify_dirs: dict[tuple[str, str], Path] = field(default_factory=dict)

    def listen_fds_for(self, pod: str, container: str) -> int:
        return self.listen_count if self.listen_target == (pod, container) else 0

    def notify_dir_for(self, pod: str, container: str) -> Path | None:
        return self.notify_dirs.get((pod, container))

    def relays_pod(self, pod: str) -> bool:
        return any(key[0] == pod for key in self.notify_dirs)

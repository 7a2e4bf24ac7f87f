"""Where a pod's and a container's files live.

Transient things (bundles, mounted rootfs, pid files, exit files, /etc files of a pod) are in the
run root and vanish with a reboot; what must survive (writable layers, logs) is in the graph root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubeplay.config import Settings


def notify_relays_dir(settings: Settings, pod_name: str) -> Path:
    """The sd_notify relay sockets of a pod played under a service manager, one directory per container.

    Keyed by the pod's name because they are made before the pod has an id; the pod's removal takes
    them away even when the play that made them was killed before it could.
    """
    return settings.runroot / "notify" / pod_name


@dataclass(frozen=True)
class PodPaths:
    """Where a pod's transient files live in the run root."""

    settings: Settings
    pod_id: str

    @property
    def run_dir(self) -> Path:
        return self.settings.runroot / "pods" / self.pod_id

    @property
    def hosts(self) -> Path:
        return self.run_dir / "hosts"

    @property
    def hostname(self) -> Path:
        return self.run_dir / "hostname"

    @property
    def resolv(self) -> Path:
        return self.run_dir / "resolv.conf"

    @property
    def shm(self) -> Path:
        return self.run_dir / "shm"

    @property
    def data_dir(self) -> Path:
        return self.settings.root / "pods" / self.pod_id

    @property
    def volumes_dir(self) -> Path:
        """emptyDir, configMap, secret and downwardAPI volumes of the pod."""
        return self.data_dir / "volumes"


@dataclass(frozen=True)
class ContainerPaths:
    """Where a container's bundle, rootfs, logs and exit file live."""

    settings: Settings
    container_id: str

    @property
    def bundle(self) -> Path:
        return self.settings.runroot / "containers" / self.container_id

    @property
    def rootfs(self) -> Path:
        return self.bundle / "rootfs"

    @property
    def pidfile(self) -> Path:
        return self.bundle / "pidfile"

    @property
    def conmon_pidfile(self) -> Path:
        return self.bundle / "conmon.pid"

    @property
    def exit_dir(self) -> Path:
        return self.settings.runroot / "exits"

    @property
    def exit_file(self) -> Path:
        return self.exit_dir / self.container_id

    @property
    def restart_pidfile(self) -> Path:
        """The pid of the process waiting out this container's restart back-off."""
        return self.bundle / "restart.pid"

    @property
    def attach_link(self) -> Path:
        """conmon's short link to the bundle, for the attach socket's path (108 bytes at most)."""
        return self.settings.runroot / "sockets" / self.container_id

    @property
    def persist_dir(self) -> Path:
        return self.bundle / "persist"

    @property
    def data_dir(self) -> Path:
        return self.settings.root / "containers" / self.container_id

    @property
    def upper(self) -> Path:
        return self.data_dir / "upper"

    @property
    def work(self) -> Path:
        return self.data_dir / "work"

    @property
    def log(self) -> Path:
        return self.data_dir / "ctr.log"

    @property
    def previous_log(self) -> Path:
        return self.data_dir / "ctr.log.previous"


def runtime_state_root(settings: Settings) -> Path:
    """The --root given to runc/crun: their own state, transient."""
    return settings.runroot / "runtime"

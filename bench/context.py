"""What every bench row shares: the two engines, the registry, image references, and results."""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass, field
from pathlib import Path

from bench.engines import Engine, Kubeplay, Podman
from bench.stats import Sample
from tests.support.registry import Registry


@dataclass(frozen=True)
class Row:
    """One line of the results table; `podman` None means podman cannot do the same work."""

    operation: str
    kubeplay: Sample | None
    podman: Sample | None
    target: str
    unit: str = "s"
    note: str = ""
    target_ratio: float | None = None
    target_absolute: float | None = None  # seconds, on kubeplay's median

    @property
    def ratio(self) -> float | None:
        if self.kubeplay is None or self.podman is None or self.podman.median == 0:
            return None
        return self.kubeplay.median / self.podman.median

    @property
    def verdict(self) -> str:
        if self.kubeplay is None:
            return "n/a"
        if self.target_absolute is not None:
            return "meets" if self.kubeplay.median <= self.target_absolute else "misses"
        if self.ratio is None or self.target_ratio is None:
            return "n/a"
        return "meets" if self.ratio <= self.target_ratio else "misses"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Bench:
    workdir: Path
    registry: Registry
    kubeplay: Kubeplay
    podman: Podman
    busybox_ref: str
    large_ref: str
    rows: list[Row] = field(default_factory=list)
    _ports: itertools.count = field(default_factory=lambda: itertools.count(31080))

    @property
    def engines(self) -> tuple[Engine, Engine]:
        return (self.kubeplay, self.podman)

    def manifest_path(self, name: str) -> Path:
        return self.workdir / "manifests" / name

    def host_port(self) -> int:
        """A distinct free port on 127.0.0.1 for each play, so no run sees another's leftovers."""
        for port in self._ports:
            if _port_is_free(port):
                return port
        raise RuntimeError("no free port")

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

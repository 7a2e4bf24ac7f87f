"""Per-pod locks around lifecycle changes, so play, down and exit callbacks never interleave."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from kubeplay.config import Settings


@contextmanager
def pod_lock(settings: Settings, pod_name: str) -> Iterator[None]:
    directory = settings.runroot / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{pod_name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_lock(settings: Settings, pod_name: str) -> None:
    try:
        (settings.runroot / "locks" / f"{pod_name}.lock").unlink()
    except FileNotFoundError:
        pass

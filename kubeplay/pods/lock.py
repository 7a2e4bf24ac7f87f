"""Per-pod locks around lifecycle changes, so play, down and exit callbacks never interleave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.errors import ConflictError
from kubeplay.filelock import locked
from kubeplay.names import NAME_MAX, store_child

# a play of a pod with slow init containers holds its lock the longest; past this, something is stuck
POD_LOCK_TIMEOUT = 3600.0
JOB_LOCK_TIMEOUT = 120.0


def lock_path(settings: Settings, name: str) -> Path:
    """<runroot>/locks/<name>.lock, its directory made: every lock of pods and jobs lives there."""
    directory = settings.runroot / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    return store_child(directory, lock_file_name(name), "lock")


def lock_file_name(name: str) -> str:
    """<name>.lock; a name too long for one file name (a pod may have 253 characters, a Job's lock
    adds its namespace) keeps its start and gains a digest of the whole."""
    file_name = f"{name}.lock"
    if len(file_name.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return file_name
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"{name[:160]}-{digest}.lock"


@contextmanager
def pod_lock(settings: Settings, pod_name: str, timeout: float = POD_LOCK_TIMEOUT) -> Iterator[None]:
    def busy() -> ConflictError:
        return ConflictError(f'pod "{pod_name}" is busy: another kubeplay command has held it for {int(timeout)} s',
                             hint="wait for that command, or find it with `ps -ef | grep kubeplay`")

    with locked(lock_path(settings, pod_name), timeout, busy):
        yield


@contextmanager
def job_lock(settings: Settings, namespace: str, name: str, timeout: float = JOB_LOCK_TIMEOUT) -> Iterator[None]:
    """One job changes in one process at a time: exit callbacks of its pods, its timer, `down`."""
    def busy() -> ConflictError:
        return ConflictError(f'job "{name}" is busy: its lock was held for {int(timeout)} s',
                             hint="retry; `kubeplay jobs` shows its state")

    with locked(lock_path(settings, f"job.{namespace}.{name}"), timeout, busy):
        yield


def remove_lock(settings: Settings, pod_name: str) -> None:
    try:
        store_child(settings.runroot / "locks", lock_file_name(pod_name), "lock").unlink()
    except FileNotFoundError:
        pass

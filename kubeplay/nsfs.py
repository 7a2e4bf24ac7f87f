"""Namespace files: the bind mounts under a run root's `netns` directory that keep a namespace
alive without a process. Root pods and rootless pods make them in different ways (kubeplay.net,
kubeplay.rootless); where they may go, and how they are removed, is decided here once."""

from __future__ import annotations

import os
from pathlib import Path

from kubeplay.errors import HostError
from kubeplay.libc import detach_mount


def refuse_foreign(path: Path) -> None:
    """Only a file of our own netns directory may become a namespace mount point: never a device or a
    path elsewhere (a mount there would shadow it for the whole host)."""
    if path.parent.name != "netns" or (path.exists() and not path.is_file() and not path.is_dir()):
        raise HostError(f"refusing to make a namespace file at {path}",
                        hint="the run root is misconfigured; pass --runroot to a directory kubeplay owns")


def prepare_mount_point(path: Path) -> None:
    """The empty file a namespace is bind-mounted on (its directory private to the owner)."""
    refuse_foreign(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o400, exist_ok=True)
    except OSError as exc:
        raise HostError(f"cannot create namespace mount point {path}: {exc}",
                        hint="check that the run root is writable and on a local filesystem") from exc


def is_namespace_mount(path: Path) -> bool:
    """True if `path` is a live namespace bind mount (its device is nsfs, not the directory's)."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def remove_namespace_file(path: Path) -> None:
    """Unmount and unlink a namespace file. Idempotent; processes still inside keep the namespace."""
    if is_namespace_mount(path):
        code = detach_mount(str(path))  # a process that has the namespace open must not make this fail
        if code:
            raise HostError(f"cannot unmount namespace file {path}: {os.strerror(code)}",
                            hint="run as root (rootless: as the user who made it); check `findmnt`")
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise HostError(f"cannot remove {path}: {exc}", hint="remove it by hand once unmounted") from exc

"""mount(2) and umount2(2) through libc: faster than spawning mount(8) for each container."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from kubeplay.errors import HostError
from kubeplay.libc import detach_mount, libc


def mount(source: str, target: Path, fstype: str, flags: int = 0, data: str = "") -> None:
    result = libc().mount(source.encode(), str(target).encode(), fstype.encode(), flags, data.encode() or None)
    if result != 0:
        errno = ctypes.get_errno()
        raise HostError(
            f"cannot mount {fstype} on {target}: {os.strerror(errno)}",
            hint="`kubeplay system check` tells whether overlayfs works on this host",
        )


def unmount(target: Path) -> None:
    """Lazily unmount; a target that is not mounted (or gone) is fine."""
    code = detach_mount(str(target))
    if code:
        raise HostError(f"cannot unmount {target}: {os.strerror(code)}")


def mount_points() -> list[str]:
    """Every mount point of this mount namespace (mountinfo escapes spaces and the like as octal)."""
    try:
        with open("/proc/self/mountinfo") as info:
            return [fields[4].encode().decode("unicode_escape") for line in info if len(fields := line.split()) > 4]
    except OSError:
        return []


def is_mounted(target: Path) -> bool:
    """Whether a filesystem of its own (tmpfs, overlay, fuse-overlayfs: what kubeplay mounts) is at
    `target`. Its device differs from its parent's, so two stats answer; the host's whole mount
    table is read only when a stat cannot (a dead fuse mount)."""
    try:
        return os.stat(target).st_dev != os.stat(target.parent).st_dev
    except FileNotFoundError:
        return False
    except OSError:
        return str(target) in mount_points()


def mounts_below(directory: Path) -> list[str]:
    """Mount points at or below `directory`, deepest first, so they can be unmounted in order."""
    prefix = str(directory.resolve())
    found = {point for point in mount_points() if point == prefix or point.startswith(prefix + "/")}
    return sorted(found, key=lambda point: point.count("/"), reverse=True)


def mount_overlay(lowers: list[Path], upper: Path, work: Path, target: Path) -> None:
    """An overlay of read-only layers (topmost first) with a writable upper dir."""
    target.mkdir(parents=True, exist_ok=True)
    if not lowers:
        # overlayfs needs at least one lower dir; an empty image gets an empty one
        empty = upper.parent / "empty"
        empty.mkdir(exist_ok=True)
        lowers = [empty]
    options = f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={work}"
    mount("overlay", target, "overlay", 0, options)

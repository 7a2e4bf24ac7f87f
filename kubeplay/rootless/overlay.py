"""Container rootfs for a rootless user: native overlayfs inside the user namespace where the kernel
allows it (Linux >= 5.11, with `userxattr` so overlay keeps its metadata in user.* xattrs), else
fuse-overlayfs. Which one works is found once by a real test mount and kept in the run root.

Runs inside the per-user namespace (kubeplay.rootless.userns), as its uid 0, which owns the mount
namespace: mount(2) and umount2(2) are allowed there.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from kubeplay.errors import HostError
from kubeplay.libc import detach_mount, libc
from kubeplay.logs import get_logger

NATIVE = "native"
FUSE = "fuse-overlayfs"
MODE_FILE = "overlay-mode"
FUSE_TIMEOUT = 30.0

log = get_logger(__name__)


def overlay_options(lowers: list[Path], upper: Path, work: Path, native: bool) -> str:
    options = f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={work}"
    return options + ",userxattr" if native else options


def _native_mount(options: str, target: Path) -> int:
    """0, or the errno of mount(2)."""
    if libc().mount(b"overlay", str(target).encode(), b"overlay", 0, options.encode()) == 0:
        return 0
    return ctypes.get_errno()


def _fuse_mount(options: str, target: Path) -> str | None:
    """None, or why fuse-overlayfs failed."""
    program = shutil.which("fuse-overlayfs")
    if program is None:
        return "fuse-overlayfs is not installed"
    try:
        done = subprocess.run([program, "-o", options, str(target)], capture_output=True, text=True,
                              timeout=FUSE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


def probe_mode(scratch_parent: Path) -> tuple[str | None, str]:
    """(mode that works or None, what was tried): a two-layer test mount read back through."""
    scratch_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="overlay-probe-", dir=scratch_parent) as scratch:
        base = Path(scratch)
        for part in ("lower", "upper", "work", "merged"):
            (base / part).mkdir()
        (base / "lower" / "probe").write_text("lower")
        tried = []
        for mode in (NATIVE, FUSE):
            options = overlay_options([base / "lower"], base / "upper", base / "work", mode == NATIVE)
            if mode == NATIVE:
                code = _native_mount(options, base / "merged")
                problem = os.strerror(code) if code else None
            else:
                problem = _fuse_mount(options, base / "merged")
            if problem is None:
                try:
                    works = (base / "merged" / "probe").read_text() == "lower"
                finally:
                    unmount(base / "merged")
                if works:
                    return mode, "; ".join(tried + [f"{mode}: works"])
                problem = "the merged view does not show the lower layer"
            tried.append(f"{mode}: {problem}")
        return None, "; ".join(tried)


def overlay_mode(runroot: Path) -> str:
    """The mode this run root uses, probed once; HostError when neither works."""
    cached = runroot / MODE_FILE
    try:
        mode = cached.read_text().strip()
        if mode in (NATIVE, FUSE):
            return mode
    except OSError:
        pass
    mode, detail = probe_mode(runroot)
    if mode is None:
        raise HostError(f"no overlay filesystem works in the user namespace ({detail})",
                        hint="use a kernel >= 5.11 (native rootless overlay), or install fuse-overlayfs "
                             "(`apt-get install fuse-overlayfs`) and make /dev/fuse usable (chmod 0666 /dev/fuse)")
    if mode == FUSE:
        log.info("rootless: kernel overlay refused in the user namespace; using fuse-overlayfs")
    partial = cached.with_suffix(f".{os.getpid()}-{threading.get_ident()}")
    partial.write_text(mode)
    partial.replace(cached)
    return mode


def mount_rootfs(lowers: list[Path], upper: Path, work: Path, target: Path, runroot: Path) -> None:
    """An overlay of read-only layers (topmost first) with a writable upper dir, as this run root mounts."""
    target.mkdir(parents=True, exist_ok=True)
    if not lowers:
        empty = upper.parent / "empty"  # overlay needs one lower dir; an empty image gets an empty one
        empty.mkdir(exist_ok=True)
        lowers = [empty]
    mode = overlay_mode(runroot)
    options = overlay_options(lowers, upper, work, mode == NATIVE)
    if mode == NATIVE:
        code = _native_mount(options, target)
        if code:
            raise HostError(f"cannot mount the rootfs overlay on {target}: {os.strerror(code)}",
                            hint=f"remove {runroot / MODE_FILE} to test the overlay modes again; "
                                 "`kubeplay system check` shows which works")
        return
    problem = _fuse_mount(options, target)
    if problem:
        raise HostError(f"fuse-overlayfs cannot mount the rootfs on {target}: {problem}",
                        hint="make /dev/fuse usable (chmod 0666 /dev/fuse), or reinstall fuse-overlayfs")


def unmount(target: Path) -> None:
    """Lazily unmount (a fuse mount too: the namespace's root may); not mounted is fine."""
    code = detach_mount(str(target))
    if code:
        raise HostError(f"cannot unmount {target}: {os.strerror(code)}",
                        hint="run `kubeplay down` again, or unmount it inside the user namespace")

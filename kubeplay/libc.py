"""The C library, for the system calls Python's os module lacks (mount, umount2, setns, unshare,
sethostname). It is the one this process already has loaded: ctypes.util.find_library would run
`ldconfig -p` (a fork and exec) on every command that imports a module needing it."""

from __future__ import annotations

import ctypes
import errno
import functools
import os


@functools.cache
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, doing: str) -> None:
    """Raise OSError (with the errno and `doing`) when a libc call returned non-zero."""
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{doing}: {os.strerror(code)}")


MNT_DETACH = 2


def detach_mount(target: str) -> int:
    """Unmount `target` lazily (MNT_DETACH: a process still using it must not make this fail).
    0 when done, or when `target` is not a mount point or is gone; otherwise the errno."""
    if libc().umount2(target.encode(), MNT_DETACH) == 0:
        return 0
    code = ctypes.get_errno()
    return 0 if code in (errno.EINVAL, errno.ENOENT) else code

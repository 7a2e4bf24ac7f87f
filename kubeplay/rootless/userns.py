"""The per-user namespace: one long-lived pause process holds a user and a mount namespace, and every
rootless command joins it before touching the store, so all of a user's commands see the same
mounts (container rootfs, netns bind mounts) and the same id mapping.

The pause process is made once per run root: a forked child unshares a user and a mount namespace,
the parent writes its id maps with newuidmap/newgidmap (the only privileged helpers), and the child
execs `catatonit -P`, which sleeps for ever. Its pid (and start time, against pid reuse) is kept in
``<runroot>/pause.pid``. A command joins with setns(2) on ``/proc/PID/ns/{user,mnt}`` from this very
process (Python 3.11 has no os.setns, so through libc): no re-exec is needed, because setns into a
user namespace only requires a single-threaded caller, which the CLI is before it runs a command.
Inside, the process is uid 0 of the namespace; ``KUBEPLAY_ROOTLESS_UID`` tells kubeplay (and the
conmon exit commands it spawns, which inherit the namespace) that it is still a rootless user.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import pwd
import select
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from kubeplay.config import (
    ROOTLESS_UID_ENV,
    Settings,
    find_catatonit,
    in_initial_user_namespace,
)
from kubeplay.errors import HostError
from kubeplay.libc import libc
from kubeplay.rootless.subids import UserIds, map_arguments, user_ids

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
HELPER_TIMEOUT = 10.0
_EXTRA_PATH = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")



def pause_pidfile(runroot: Path) -> Path:
    return runroot / "pause.pid"


def find_helper(name: str) -> str:
    """newuidmap/newgidmap on PATH; missing is a HostError that names the package."""
    found = shutil.which(name)
    if found is None:
        raise HostError(f"{name} is not installed (or not on PATH): rootless pods need it to map "
                        "the subordinate ids into the user namespace",
                        hint="as root run `apt-get install uidmap` (Fedora: `dnf install shadow-utils`)")
    return found


def find_pause_program() -> str:
    return find_catatonit("the rootless pause process")


def check_runtime_dir(uid: int) -> None:
    """$XDG_RUNTIME_DIR, when set, must be a directory this user owns and can write."""
    value = os.environ.get("XDG_RUNTIME_DIR")
    if not value:
        return
    path = Path(value)
    try:
        info = path.stat()
    except OSError as exc:
        problem = f"does not exist ({exc.strerror})"
    else:
        if not path.is_dir():
            problem = "is not a directory"
        elif info.st_uid != uid:
            problem = f"belongs to uid {info.st_uid}, not to uid {uid}"
        elif not os.access(path, os.W_OK | os.X_OK):
            problem = "is not writable"
        else:
            return
    raise HostError(f"XDG_RUNTIME_DIR {value} {problem}: the rootless run root goes there",
                    hint=f"create it for uid {uid} with mode 0700 (`loginctl enable-linger USER` makes "
                         f"/run/user/{uid}), unset XDG_RUNTIME_DIR to use /tmp/kubeplay-{uid}, "
                         "or pass --runroot DIR")


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[19]  # field 22, counted after "pid (comm)"


def live_pause(runroot: Path) -> int | None:
    """The pause process recorded for this run root, if it still runs (same pid, same start time)."""
    try:
        pid_text, started = pause_pidfile(runroot).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _start_time(pid) == started else None


def _close_quietly(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _pause_child(ready_write: int, go_read: int, program: str) -> None:
    """In the forked child: unshare, tell the parent, wait for the maps, become the pause process."""
    try:
        os.setsid()
        if libc().unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            os.write(ready_write, f"E{ctypes.get_errno()}".encode())
            os._exit(1)
        os.write(ready_write, b"U")
        if os.read(go_read, 1) != b"G":
            os._exit(1)  # the parent gave up (its end closed)
        os.chdir("/")  # never pin the caller's directory
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        os.execv(program, [program, "-P"])
    finally:
        os._exit(1)


def _read_with_timeout(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 64) if ready else b""


def _run_map_helper(helper: str, pid: int, maps: list[str]) -> None:
    argv = [helper, str(pid), *maps]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=HELPER_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"cannot run {helper}: {exc}", hint="reinstall uidmap (`apt-get install uidmap`)") from exc
    if done.returncode != 0:
        name = Path(helper).name
        raise HostError(f"{name} refused the id map {' '.join(maps)}: {done.stderr.strip()}",
                        hint=f"{name} must be setuid root (`apt-get install --reinstall uidmap`), and the "
                             "ranges in /etc/subuid and /etc/subgid must be this user's")


def start_pause(ids: UserIds, runroot: Path) -> int:
    """Fork the pause process, map its ids, and record it; returns its pid."""
    newuidmap, newgidmap = find_helper("newuidmap"), find_helper("newgidmap")
    program = find_pause_program()
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        _close_quietly(ready_read, go_write)
        _pause_child(ready_write, go_read, program)
    _close_quietly(ready_write, go_read)
    try:
        answer = _read_with_timeout(ready_read, HELPER_TIMEOUT)
        if answer != b"U":
            code = int(answer[1:]) if answer[:1] == b"E" and answer[1:].isdigit() else errno.EIO
            raise HostError(f"cannot create a user namespace: {os.strerror(code)}",
                            hint="enable unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000` "
                                 "(and kernel.unprivileged_userns_clone=1 where it exists)")
        _run_map_helper(newuidmap, pid, map_arguments(ids.uid_maps))
        _run_map_helper(newgidmap, pid, map_arguments(ids.gid_maps))
        os.write(go_write, b"G")
    except BaseException:
        _close_quietly(go_write)
        _reap(pid)
        raise
    finally:
        _close_quietly(ready_read)
    _close_quietly(go_write)
    started = None
    deadline = time.monotonic() + HELPER_TIMEOUT
    while started is None and time.monotonic() < deadline:
        started = _start_time(pid)
    pidfile = pause_pidfile(runroot)
    partial = pidfile.with_suffix(f".{os.getpid()}-{threading.get_ident()}")
    partial.write_text(f"{pid} {started}\n")
    partial.replace(pidfile)
    return pid


def _reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _setns(path: str, kind: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc().setns(fd, kind) != 0:
            code = ctypes.get_errno()
            raise HostError(f"cannot join the namespace {path}: {os.strerror(code)}",
                            hint="the pause process may belong to another user; remove pause.pid in the run root")
    finally:
        os.close(fd)


def join(pid: int) -> None:
    """Join the pause process's user, then mount namespace; stay in the directory we were in."""
    cwd = os.getcwd()
    _setns(f"/proc/{pid}/ns/user", CLONE_NEWUSER)
    _setns(f"/proc/{pid}/ns/mnt", CLONE_NEWNS)  # sets cwd to the namespace's root: go back
    try:
        os.chdir(cwd)
    except OSError:
        os.chdir("/")


def enter_user_namespace(settings: Settings, explicit_runroot: bool) -> None:
    """Join (or create, then join) this user's namespace; a no-op for root and when already inside."""
    if not settings.rootless or not in_initial_user_namespace():
        return
    uid, gid = os.getuid(), os.getgid()
    if not explicit_runroot:
        check_runtime_dir(uid)
    settings.ensure_dirs()
    lock_path = settings.runroot / "pause.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first commands at once must not make two namespaces
        pid = live_pause(settings.runroot)
        if pid is None:
            pid = start_pause(user_ids(_user_name(uid), uid, gid), settings.runroot)
        join(pid)
    os.environ[ROOTLESS_UID_ENV] = f"{uid}:{gid}"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return os.environ.get("USER") or str(uid)

"""A throwaway unprivileged user to run kubeplay as, and everything needed to remove it again.

`make_user(base)` adds a system user with its own HOME and XDG_RUNTIME_DIR under `base` and, unless
told otherwise, a free subordinate id range in /etc/subuid and /etc/subgid. `user.kp(...)` runs
`python -m kubeplay` as that user through setpriv (no capabilities, its own groups), with its own
environment. `user.remove()` kills what the user's kubeplay left (the pause process, recorded in its
run root, and any conmon), then deletes the user, its subordinate ids and its files.
`open_tun()` makes /dev/net/tun usable by users (as distributions ship it) and restores its mode.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kubeplay.rootless.subids import DEFAULT_COUNT, SUBGID, SUBUID, free_start
from tests.support.cli import CLIResult, mount_run_tmpfs

REPO = Path(__file__).resolve().parents[2]
USER_TIMEOUT = 120.0
USERDEL_BUSY = 8  # userdel(8): the user is logged in, i.e. some process of it exists
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


@dataclass
class RootlessUser:
    name: str
    uid: int
    gid: int
    home: Path
    runtime_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    source: Path = REPO  # where the user reaches this checkout (a bind mount when REPO is private)

    @property
    def python(self) -> str:
        """This interpreter as the user reaches it: the venv's python under `source` when it is the
        checkout's own venv, so the user gets its packages too."""
        executable = Path(sys.executable)
        if executable.is_relative_to(REPO):
            return str(self.source / executable.relative_to(REPO))
        return sys.executable

    @property
    def runroot(self) -> Path:
        return self.runtime_dir / "kubeplay"

    @property
    def graph_root(self) -> Path:
        return self.home / ".local" / "share" / "kubeplay"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "XDG_RUNTIME_DIR": str(self.runtime_dir), "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(self.source), "LANG": "C.UTF-8",
        }
        env.update(self.extra_env)
        env.update(overrides)
        return {key: value for key, value in env.items() if value is not None}

    def as_user(self, argv: list[str]) -> list[str]:
        return [SETPRIV, f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                "--inh-caps=-all", "--", *argv]

    def kp(self, *args: str, env: dict[str, str] | None = None, timeout: float = USER_TIMEOUT,
           cwd: Path | None = None) -> CLIResult:
        """`kubeplay ARGS` as this user, with the default (per-user) roots."""
        argv = self.as_user([self.python, "-m", "kubeplay", *args])
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env=self.env(**(env or {})), cwd=cwd or self.home, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"kubeplay {' '.join(args)} as {self.name} did not finish in {timeout}s; "
                                 f"stderr so far: {exc.stderr!r}") from exc
        return CLIResult(done.returncode, done.stdout, done.stderr)

    def pause_pid(self) -> int | None:
        try:
            return int((self.runroot / "pause.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def processes(self) -> list[tuple[int, str]]:
        """(pid, command name) of every process running as this user. An exited process waiting to be
        reaped (a zombie) does not count: it runs nothing, and its uid may be a new user's by then, as
        userdel frees the uid of a deleted user whose zombies are still there."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != self.uid:
                    continue
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
                if state not in ("Z", "X"):
                    found.append((int(entry.name), (entry / "comm").read_text().strip()))
            except (OSError, IndexError):
                continue
        return found

    def remove(self) -> list[tuple[int, str]]:
        """Kill what kubeplay left running as this user, delete the user; returns what had to be killed."""
        leftovers = [(pid, comm) for pid, comm in self.processes()]
        for pid, _ in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        # userdel refuses a user while a process of it exists, and a killed one may exist until its
        # parent reaps it (an orphan's new parent may take its time): ask again until it is gone
        while (subprocess.run(["userdel", self.name], capture_output=True, timeout=30).returncode == USERDEL_BUSY
               and time.monotonic() < deadline):
            time.sleep(0.05)
        subprocess.run(["groupdel", self.name], capture_output=True, timeout=30)
        _remove_subids(self.name)
        shutil.rmtree(self.home, ignore_errors=True)
        subprocess.run(["umount", "-l", str(self.runtime_dir)], capture_output=True, timeout=30)
        if self.source != REPO:
            subprocess.run(["umount", "-l", str(self.source)], capture_output=True, timeout=30)
            self.source.rmdir()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        return leftovers


def _remove_subids(name: str) -> None:
    for path in (SUBUID, SUBGID):
        if not path.exists():
            continue
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if line.split(":")[0] != name]
        if kept != lines:
            path.write_text("".join(kept))


def reachable_by_others(path: Path) -> bool:
    """Whether any user can walk to `path` and read it (every directory on the way searchable)."""
    if not os.stat(path).st_mode & 0o004:
        return False
    return all(os.stat(directory).st_mode & 0o001 for directory in [path, *path.parents])


def make_user(base: Path, subids: bool = True) -> RootlessUser:
    """A new user `kpt<random>` whose home and runtime dir are under `base` (which must be searchable)."""
    name = f"kpt{uuid.uuid4().hex[:8]}"
    home = base / name
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                    "--user-group", name], check=True, capture_output=True, timeout=30)
    entry = pwd.getpwnam(name)
    user = RootlessUser(name, entry.pw_uid, entry.pw_gid, home, base / f"{name}-run")
    try:
        user.home.mkdir(mode=0o700)
        os.chown(user.home, user.uid, user.gid)
        if not reachable_by_others(REPO):
            # a checkout under /root (mode 0700) is out of the user's reach: show it the same files
            # through a read-only bind mount in `base`, which other users can search
            user.source = base / f"{name}-src"
            user.source.mkdir()
            subprocess.run(["mount", "--bind", "-o", "ro", str(REPO), str(user.source)], check=True,
                           capture_output=True, timeout=30)
        # the user's runtime dir is a tmpfs mounted nosuid,nodev,noexec, as systemd-logind makes it
        mount_run_tmpfs(user.runtime_dir, f"nosuid,nodev,noexec,mode=0700,uid={user.uid},gid={user.gid}")
        _remove_subids(name)  # useradd may have allocated ids itself (SUB_UID_COUNT in login.defs)
        if subids:
            texts = [path.read_text() for path in (SUBUID, SUBGID) if path.exists()]
            start = free_start(texts)
            last = start + DEFAULT_COUNT - 1
            subprocess.run(["usermod", "--add-subuids", f"{start}-{last}", "--add-subgids", f"{start}-{last}", name],
                           check=True, capture_output=True, timeout=30)
    except BaseException:
        user.remove()
        raise
    return user


@contextlib.contextmanager
def open_tun():
    """/dev/net/tun at 0666 for the duration (pasta and slirp4netns open it as the user)."""
    tun = Path("/dev/net/tun")
    before = tun.stat().st_mode & 0o7777
    os.chmod(tun, 0o666)
    try:
        yield
    finally:
        os.chmod(tun, before)

"""What a rootless user has and lacks, each item with the exact fix; `kubeplay system check` shows them.

Runs outside the user namespace (as the user), so it can report what would stop one being made.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import HostError
from kubeplay.rootless import cgroups, overlay, subids

TOOL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Readiness:
    """One rootless prerequisite: whether it holds, and the fix when not."""

    name: str
    ok: bool
    required: bool
    detail: str
    fix: str | None = None


def check_subids(user: str, uid: int, gid: int) -> Readiness:
    try:
        ids = subids.user_ids(user, uid, gid)
    except HostError as exc:
        return Readiness("subuid/subgid", False, True, exc.message, exc.hint)
    shown = ", ".join(f"{r.start}+{r.count}" for r in ids.uids)
    return Readiness("subuid/subgid", True, True, f"{user}: uids {shown}; gids "
                     + ", ".join(f"{r.start}+{r.count}" for r in ids.gids))


def _setuid_or_caps(path: str) -> bool:
    if os.stat(path).st_mode & 0o4000:
        return True
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


def check_id_helpers() -> Readiness:
    problems = []
    for name in ("newuidmap", "newgidmap"):
        path = shutil.which(name)
        if path is None:
            problems.append(f"{name} not found on PATH")
        elif not _setuid_or_caps(path):
            problems.append(f"{path} is neither setuid root nor file-capable")
    if problems:
        return Readiness("newuidmap/newgidmap", False, True, "; ".join(problems),
                         "as root run `apt-get install uidmap` (or `apt-get install --reinstall uidmap`)")
    return Readiness("newuidmap/newgidmap", True, True, "installed, setuid")


def _unshare(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    try:
        return subprocess.run([unshare, "--user", "--map-root-user", "--mount", *argv], capture_output=True,
                              text=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_user_namespaces() -> Readiness:
    done = _unshare(["true"])
    if done is not None and done.returncode == 0:
        return Readiness("user namespaces", True, True, "an unprivileged user namespace can be made")
    said = done.stderr.strip() if done is not None else "unshare could not run"
    return Readiness("user namespaces", False, True, f"cannot make a user namespace: {said}",
                     "as root run `sysctl -w user.max_user_namespaces=15000` "
                     "(and `sysctl -w kernel.unprivileged_userns_clone=1` where it exists)")


def check_network_helper() -> Readiness:
    found = [f"{name} ({path})" for name in ("pasta", "slirp4netns") if (path := shutil.which(name))]
    if not found:
        return Readiness("pasta/slirp4netns", False, True, "neither pasta nor slirp4netns is on PATH",
                         "as root run `apt-get install passt` (or `apt-get install slirp4netns`)")
    tun = Path("/dev/net/tun")
    if not os.access(tun, os.R_OK | os.W_OK):
        return Readiness("pasta/slirp4netns", False, True, f"{found[0]} found, but {tun} cannot be opened",
                         f"as root run `chmod 0666 {tun}`")
    return Readiness("pasta/slirp4netns", True, True, "using " + found[0])


def check_overlay(runroot: Path) -> Readiness:
    cached = runroot / overlay.MODE_FILE
    if cached.is_file():
        return Readiness("rootless overlay", True, True, f"{cached.read_text().strip()} (as found by a test mount)")
    with tempfile.TemporaryDirectory(prefix="kubeplay-overlay-check-") as scratch:
        base = Path(scratch)
        for part in ("lower", "upper", "work", "merged"):
            (base / part).mkdir()
        options = overlay.overlay_options([base / "lower"], base / "upper", base / "work", native=True)
        mount = shutil.which("mount") or "/bin/mount"
        done = _unshare([mount, "-t", "overlay", "overlay", "-o", options, str(base / "merged")])
    if done is not None and done.returncode == 0:
        return Readiness("rootless overlay", True, True, "native overlay works in a user namespace")
    if shutil.which("fuse-overlayfs"):
        ok = os.access("/dev/fuse", os.R_OK | os.W_OK)
        return Readiness("rootless overlay", ok, True,
                         "native overlay refused in a user namespace; fuse-overlayfs "
                         + ("will be used" if ok else "is installed but /dev/fuse cannot be opened"),
                         None if ok else "as root run `chmod 0666 /dev/fuse`")
    return Readiness("rootless overlay", False, True, "native overlay refused in a user namespace and no fuse-overlayfs",
                     "use a kernel >= 5.11, or `apt-get install fuse-overlayfs`")


def check_cgroup_delegation() -> Readiness:
    path, why = cgroups.delegation()
    if path:
        return Readiness("cgroup delegation", True, False, why)
    return Readiness("cgroup delegation", False, False, why + "; rootless pods run without resource limits",
                     "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate cpu, memory and pids "
                     "to users (systemd: Delegate=yes in user@.service)")


def rootless_readiness(runroot: Path) -> list[Readiness]:
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return [
        check_subids(user, uid, gid),
        check_id_helpers(),
        check_user_namespaces(),
        check_network_helper(),
        check_overlay(runroot),
        check_cgroup_delegation(),
    ]

"""`kubeplay system check`: what this host offers kubeplay, each item tested for real where it can be.

Every check returns a `Check` that says whether it passed, whether kubeplay cannot run without it,
what was found, and for a failure the command or setting that fixes it. A check that crashes is
reported as failed with the reason; it never stops the others.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.libc import libc
from kubeplay.runtime.probe import probe_all

TOOL_TIMEOUT = 10.0
WANTED_CONTROLLERS = ("cpu", "memory", "pids")


@dataclass(frozen=True)
class Check:
    """One host check: whether it passed, what was found, and the fix."""

    name: str
    ok: bool
    required: bool
    detail: str
    fix: str | None = None


def _which(name: str) -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/libexec/podman"])
    return shutil.which(name, path=search)


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unusable: {exc}"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "no version output"


def check_runtime(settings: Settings) -> Check:
    results = probe_all(settings)
    parts = []
    for result in results:
        version = f" {result.version}" if result.version else ""
        state = "works" if result.ok else f"fails: {result.error}"
        parts.append(f"{result.name}{version} {state}")
    working = [r for r in results if r.ok]
    detail = "; ".join(parts)
    if working:
        return Check("runtime", True, True, f"using {working[0].name} ({detail})")
    return Check("runtime", False, True, detail,
                 "install runc (apt-get install runc), or fix the reason the installed runtime fails")


def check_binary(name: str, package: str, required: bool, version_flag: str | None = "--version") -> Check:
    path = _which(name)
    if path is None:
        return Check(name, False, required, f"{name} not found", f"apt-get install {package}")
    detail = path if version_flag is None else f"{path}: {_first_line([path, version_flag])}"
    return Check(name, True, required, detail)


def check_overlay(settings: Settings) -> Check:
    supported = "overlay" in Path("/proc/filesystems").read_text().split()
    if settings.rootless:
        fuse = _which("fuse-overlayfs")
        ok = supported or fuse is not None
        detail = f"kernel overlay: {'yes' if supported else 'no'}; fuse-overlayfs: {fuse or 'missing'}"
        return Check("overlayfs", ok, True, detail, None if ok else "apt-get install fuse-overlayfs")
    if not supported:
        return Check("overlayfs", False, True, "the kernel has no overlay filesystem", "modprobe overlay")
    # layers and writable layers live in the graph root, so that is where the test mount goes
    error = _test_overlay_mount(settings.root)
    if error:
        return Check("overlayfs", False, True, f"test mount under {settings.root} failed: {error}",
                     "put --root on a filesystem overlay accepts as upper dir (ext4, xfs, tmpfs)")
    return Check("overlayfs", True, True, f"kernel overlay; a test mount under {settings.root} works")


def _test_overlay_mount(directory: Path) -> str | None:
    """Mount a two-layer overlay, read through it, unmount; the error text, or None when it works."""
    lib = libc()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="overlay-check-", dir=directory) as scratch:
        base = Path(scratch)
        for part in ("lower", "upper", "work", "merged"):
            (base / part).mkdir()
        (base / "lower" / "probe").write_text("lower")
        options = f"lowerdir={base / 'lower'},upperdir={base / 'upper'},workdir={base / 'work'}"
        merged = str(base / "merged").encode()
        if lib.mount(b"overlay", merged, b"overlay", 0, options.encode()) != 0:
            return os.strerror(ctypes.get_errno())
        try:
            (base / "merged" / "written").write_text("upper")
            if (base / "merged" / "probe").read_text() != "lower" or not (base / "upper" / "written").exists():
                return "the merged view does not show the layers"
        finally:
            lib.umount2(merged, 0)
    return None


def mount_of(path: Path) -> tuple[str, set[str]]:
    """The mount point holding `path` (or the nearest existing parent) and its per-mount options."""
    target = path.absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    target = target.resolve()
    best, options = "/", set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = fields[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as octal
        inside = target == Path(point) or Path(point) in target.parents
        if inside and len(point) >= len(best):  # later lines are mounted over earlier ones
            best, options = point, set(fields[5].split(","))
    return best, options


# The graph root holds what runs: image layers, writable layers, the infra's rootfs (which the
# runtime bind-mounts, so it keeps the mount's flags). The run root holds only state, sockets,
# bind-mounted files and mount points: systemd's nosuid,nodev,noexec /run is fine there.
GRAPH_ROOT_FORBIDDEN = {"ro": "it is read-only", "noexec": "nothing on it can be executed",
                        "nodev": "device nodes in images do not work"}
RUN_ROOT_FORBIDDEN = {"ro": "it is read-only"}


def check_storage_mounts(settings: Settings) -> list[Check]:
    checks = []
    for label, path, forbidden in (("graph root", settings.root, GRAPH_ROOT_FORBIDDEN),
                                   ("run root", settings.runroot, RUN_ROOT_FORBIDDEN)):
        point, options = mount_of(path)
        shown = ",".join(sorted(options))
        found = [f"{option}: {why}" for option, why in forbidden.items() if option in options]
        flag = "--root" if label == "graph root" else "--runroot"
        if found:
            checks.append(Check(label, False, True, f"{path} is on {point} ({shown}); " + "; ".join(found),
                                f"remount {point} without {', '.join(o for o in forbidden if o in options)}, "
                                f"or pass {flag} to a directory on another filesystem"))
        else:
            checks.append(Check(label, True, True, f"{path} is on {point} ({shown})"))
    return checks


def cgroup_layout() -> tuple[str, set[str]]:
    """("v1" | "v2" | "hybrid" | "none", controllers usable by containers)."""
    fstypes = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        mount_point = left.split()[4]
        if mount_point.startswith("/sys/fs/cgroup"):
            fstypes[mount_point] = right.split()[0]
    if fstypes.get("/sys/fs/cgroup") == "cgroup2":
        controllers = Path("/sys/fs/cgroup/cgroup.controllers").read_text().split()
        return "v2", set(controllers)
    v1 = any(kind == "cgroup" for kind in fstypes.values())
    if not v1:
        return "none", set()
    enabled = set()
    for line in Path("/proc/cgroups").read_text().splitlines()[1:]:
        name, hierarchy, _, on = line.split()
        if on == "1" and hierarchy != "0":
            enabled.add(name)
    return ("hybrid" if "cgroup2" in fstypes.values() else "v1"), enabled


def check_cgroups(_: Settings) -> list[Check]:
    version, controllers = cgroup_layout()
    if version == "none":
        return [Check("cgroups", False, True, "no cgroup filesystem is mounted",
                      "mount cgroup2 on /sys/fs/cgroup (or boot with systemd)")]
    note = {"hybrid": "hybrid: v1 controllers plus a cgroup2 mount (some crun versions refuse this layout)",
            "v1": "v1", "v2": "v2 (unified)"}[version]
    missing = [name for name in WANTED_CONTROLLERS if name not in controllers]
    found = ", ".join(sorted(c for c in controllers if c in WANTED_CONTROLLERS + ("cpuset", "io", "blkio")))
    return [
        Check("cgroups", True, True, note),
        Check("cgroup controllers", not missing, False,
              f"available: {found or 'none'}" + (f"; missing: {', '.join(missing)}" if missing else ""),
              None if not missing else "enable the missing controllers (cgroup_enable= on the kernel command line)"
              " or resource limits in manifests cannot be applied"),
    ]


def _sub_ids(path: Path, user: str, uid: int) -> bool:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return False
    return any(line.split(":")[0] in (user, str(uid)) for line in lines if line.strip())


def _has_file_caps(path: str) -> bool:
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


def check_userns(settings: Settings) -> Check:
    problems = []
    max_ns = Path("/proc/sys/user/max_user_namespaces")
    if max_ns.exists() and int(max_ns.read_text()) == 0:
        problems.append("user.max_user_namespaces is 0")
    clone = Path("/proc/sys/kernel/unprivileged_userns_clone")
    if clone.exists() and clone.read_text().strip() == "0":
        problems.append("kernel.unprivileged_userns_clone is 0")
    for helper in ("newuidmap", "newgidmap"):
        path = _which(helper)
        if path is None:
            problems.append(f"{helper} missing")
        elif not os.stat(path).st_mode & 0o4000 and not _has_file_caps(path):
            problems.append(f"{helper} is neither setuid nor file-capable")
    if settings.rootless:
        import pwd

        user = pwd.getpwuid(os.getuid()).pw_name
        for path in (Path("/etc/subuid"), Path("/etc/subgid")):
            if not _sub_ids(path, user, os.getuid()):
                problems.append(f"no {path} entry for {user}")
    detail = "; ".join(problems) or "available (max_user_namespaces "
    if not problems:
        detail += f"{max_ns.read_text().strip() if max_ns.exists() else 'unknown'}; newuidmap/newgidmap setuid)"
    return Check("user namespaces", not problems, settings.rootless, detail,
                 None if not problems else "sysctl -w user.max_user_namespaces=15000; apt-get install uidmap; "
                 "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER")


def check_tun(settings: Settings) -> Check:
    tun = Path("/dev/net/tun")
    if not tun.exists():
        return Check("/dev/net/tun", False, settings.rootless, "/dev/net/tun does not exist",
                     "modprobe tun")
    mode = tun.stat().st_mode & 0o777
    open_to_all = mode & 0o006 == 0o006
    detail = f"/dev/net/tun mode {mode:04o}"
    if open_to_all:
        return Check("/dev/net/tun", True, settings.rootless, detail + ": rootless networking can open it")
    return Check("/dev/net/tun", False, settings.rootless,
                 detail + ": only root can open it, so rootless pasta/slirp4netns cannot",
                 "chmod 0666 /dev/net/tun (the mode distributions ship)")


def check_rootless_net(settings: Settings) -> Check:
    found = [f"{name} ({path})" for name in ("pasta", "slirp4netns") if (path := _which(name))]
    return Check("pasta/slirp4netns", bool(found), settings.rootless,
                 ", ".join(found) or "neither pasta nor slirp4netns found",
                 None if found else "apt-get install passt (or slirp4netns)")


def check_nft(settings: Settings) -> Check:
    nft = _which("nft")
    if nft is None:
        return Check("nftables", False, not settings.rootless, "nft not found", "apt-get install nftables")
    if settings.rootless:
        return Check("nftables", True, False, f"{nft} (unused rootless: pasta/slirp4netns forward ports)")
    # -c: the kernel validates the batch without committing it, so the host's rules are untouched
    argv = [nft, "-c", "add", "table", "inet", "kubeplay_check"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("nftables", False, True, f"nft cannot run: {exc}", "reinstall nftables")
    if done.returncode != 0:
        return Check("nftables", False, True, f"nft refused a test table: {done.stderr.strip()}",
                     "modprobe nf_tables, and run kubeplay with CAP_NET_ADMIN")
    return Check("nftables", True, True, f"{nft}: the kernel accepts a test table")


def check_exec_root(_: Settings) -> Check:
    """exec, exec probes and exec hooks need / to be the root of kubeplay's mount namespace."""
    from kubeplay.runtime.mountroot import CHROOT_HINT, CHROOT_MESSAGE, exec_enters_host_root

    if exec_enters_host_root():
        return Check("exec", False, False, CHROOT_MESSAGE + ": exec, exec probes and hooks are refused", CHROOT_HINT)
    return Check("exec", True, False, "/ is the root of kubeplay's mount namespace: exec enters the container's root")


def check_bridge_netfilter(settings: Settings) -> Check:
    """Whether br_netfilter tracks bridged traffic, which the Service path between pods relies on."""
    from kubeplay.net.bridge import BRIDGE_NF_CALL

    if settings.rootless:
        return Check("bridge netfilter", True, False, "unused rootless: pods have no bridge")
    try:
        on = BRIDGE_NF_CALL.read_text().strip() == "1"
    except OSError:
        on = None
    if on:
        return Check("bridge netfilter", True, False,
                     "br_netfilter tracks bridged traffic: a pod's connection DNATed to another pod (UDP to a "
                     "Service, another pod's hostPort) keeps its address, and its answers stay on the bridge")
    found = "br_netfilter is loaded but off for bridges" if on is False else "br_netfilter is not loaded"
    return Check("bridge netfilter", False, False,
                 f"{found}: a pod's connection DNATed to another pod (UDP to a Service, another pod's hostPort) "
                 "is masqueraded (the server sees the gateway) and its answers go through the host",
                 "modprobe br_netfilter (and sysctl -w net.bridge.bridge-nf-call-iptables=1), as Kubernetes nodes "
                 "require; it applies to every bridge of the host")


def check_connect_hook(settings: Settings) -> Check:
    if settings.rootless:
        return Check("service connect hook", True, False, "unused rootless: Services go through the pods' forwarders")
    from kubeplay.net.socketlb import problem

    found = problem()
    if found is None:
        return Check("service connect hook", True, False,
                     "the kernel accepts kubeplay's cgroup connect and getpeername programs: a pod's TCP connection "
                     "to a cluster IP goes straight to an endpoint, with no translation on the way")
    return Check("service connect hook", False, False,
                 f"{found}: a pod's TCP connection to a cluster IP is translated packet by packet (nftables)",
                 "Linux 5.8 or later with cgroup2 mounted (systemd mounts it, also in hybrid mode) and bpf "
                 "allowed to root")


def check_rlimits(_: Settings) -> Check:
    def pair(kind: int) -> str:
        soft, hard = resource.getrlimit(kind)
        show = lambda value: "unlimited" if value == resource.RLIM_INFINITY else str(value)  # noqa: E731
        return f"{show(soft)}/{show(hard)}"

    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ok = hard_nofile == resource.RLIM_INFINITY or hard_nofile >= 1024
    detail = (f"nofile {pair(resource.RLIMIT_NOFILE)}, nproc {pair(resource.RLIMIT_NPROC)} (soft/hard); "
              "kubeplay never asks a container for more than the hard limit")
    return Check("rlimits", ok, False, detail, None if ok else "raise the hard nofile limit (ulimit -Hn, limits.conf)")


def check_rootless(settings: Settings) -> list[Check]:
    """Rootless readiness, item by item with its fix (kubeplay.rootless.readiness); none for root."""
    if not settings.rootless:
        return []
    from kubeplay.rootless.readiness import rootless_readiness

    return [Check(f"rootless: {item.name}", item.ok, item.required, item.detail, item.fix)
            for item in rootless_readiness(settings.runroot)]


def check_systemd(settings: Settings) -> Check:
    """systemd as PID 1, for the units of `kubeplay generate systemd` (optional: play needs none)."""
    from kubeplay.system.systemd_host import systemd_unavailable_reason, units_directory

    reason = systemd_unavailable_reason(rootless=settings.rootless)
    if reason is not None:
        return Check("systemd integration", False, False, f"unavailable: {reason}",
                     "boot the host with systemd to run kubeplay units; without it, `kubeplay play` works as it is")
    return Check("systemd integration", True, False,
                 f"systemd is PID 1: install units from `kubeplay generate systemd` in {units_directory(settings.rootless)}")


def _guarded(name: str, check: Callable[[Settings], Check | list[Check]], settings: Settings) -> list[Check]:
    try:
        result = check(settings)
    except Exception as exc:  # a broken check is a finding, not a crash of the whole report
        return [Check(name, False, False, f"the check itself failed: {type(exc).__name__}: {exc}")]
    return result if isinstance(result, list) else [result]


def run_checks(settings: Settings) -> list[Check]:
    """Every host check, in the order a reader fixes them."""
    checks: list[tuple[str, Callable[[Settings], Check | list[Check]]]] = [
        ("runtime", check_runtime),
        ("conmon", lambda s: check_binary("conmon", "conmon", True)),
        ("catatonit", lambda s: check_binary("catatonit", "catatonit", True)),
        ("storage mounts", check_storage_mounts),
        ("overlayfs", check_overlay),
        ("cgroups", check_cgroups),
        ("user namespaces", check_userns),
        ("/dev/net/tun", check_tun),
        ("pasta/slirp4netns", check_rootless_net),
        ("nftables", check_nft),
        ("bridge netfilter", check_bridge_netfilter),
        ("service connect hook", check_connect_hook),
        ("rlimits", check_rlimits),
        ("exec", check_exec_root),
        ("rootless", check_rootless),
        ("systemd integration", check_systemd),
    ]
    return [item for name, check in checks for item in _guarded(name, check, settings)]


def required_failures(checks: list[Check]) -> list[Check]:
    return [check for check in checks if check.required and not check.ok]

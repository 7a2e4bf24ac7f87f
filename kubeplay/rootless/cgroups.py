"""Resource limits for rootless pods: only a delegated cgroup v2 subtree makes them possible.

On cgroup v1 (or hybrid) hosts, or when systemd has not delegated the user's cgroup with the
controllers, the runtime gets no cgroupsPath and the pod runs without limits: kubeplay says so once,
when a pod asks for limits, rather than failing.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubeplay.logs import get_logger
from kubeplay.model.plan import PodPlan

CGROUP_ROOT = Path("/sys/fs/cgroup")
WANTED = ("cpu", "memory", "pids")
log = get_logger(__name__)


def own_cgroup(proc_cgroup: str) -> str | None:
    """The v2 path of this process from /proc/self/cgroup text (the `0::PATH` line)."""
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:] or "/"
    return None


def delegation(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> tuple[str, str]:
    """(delegated path or "", why not): a writable v2 cgroup of ours whose children get cpu, memory, pids."""
    if not (cgroup_root / "cgroup.controllers").exists():
        return "", "cgroup v2 is not mounted on /sys/fs/cgroup (v1 or hybrid layout)"
    try:
        path = own_cgroup(proc_cgroup.read_text())
    except OSError as exc:
        return "", f"cannot read {proc_cgroup}: {exc.strerror}"
    if path is None:
        return "", "this process is in no cgroup v2"
    directory = cgroup_root / path.lstrip("/")
    if not os.access(directory, os.W_OK):
        return "", f"{directory} is not writable by this user (not delegated)"
    try:
        enabled = (directory / "cgroup.subtree_control").read_text().split()
    except OSError:
        enabled = []
    missing = [name for name in WANTED if name not in enabled]
    if missing:
        return "", f"{directory} does not delegate {', '.join(missing)}"
    return path, f"delegated: {directory}"


def wants_limits(pod: PodPlan) -> bool:
    containers = list(pod.init_containers) + list(pod.containers)
    return any(c.resources.memory_limit is not None or c.resources.cpu_limit_millis is not None
               or c.resources.memory_request is not None or c.resources.cpu_request_millis is not None
               for c in containers)


def warn_without_limits(pod: PodPlan) -> str:
    """The delegated cgroup to use, or "" after one warning when the pod asks for limits."""
    path, why = delegation()
    if not path and wants_limits(pod):
        log.warning("pod %s: resource limits are not applied (rootless, %s)", pod.name, why)
    return path

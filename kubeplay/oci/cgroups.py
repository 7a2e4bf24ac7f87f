"""Cgroups of a pod: where each container's cgroup goes, its resource limits, and cleanup.

Layout (cgroupfs driver, v1 and v2 alike): a parent per pod with one child per container,
`/kubeplay/pod-<podid>/<ctrid>`; the runtime creates it under every mounted hierarchy. Rootless
containers get no cgroupsPath (nothing is writable) unless a delegated v2 subtree is given.
Limits are expressed in OCI `linux.resources` fields; the runtime maps them to v1 files or v2 ones
(memory.limit -> memory.limit_in_bytes / memory.max, cpu.shares -> cpu.shares / cpu.weight).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from kubeplay.model.plan import ResourcePlan
from kubeplay.oci.spec import SpecOption

CGROUP_PREFIX = "/kubeplay"
CPU_PERIOD_US = 100_000
MIN_CPU_QUOTA_US = 1_000  # the kernel refuses quotas under 1ms
MIN_SHARES = 2
MAX_SHARES = 262_144
MOUNTINFO = Path("/proc/self/mountinfo")


def pod_cgroup_parent(pod_id: str, delegated_base: str = "") -> str:
    return f"{delegated_base.rstrip('/')}{CGROUP_PREFIX}/pod-{pod_id}"


def cgroups_path(
    pod_id: str, container_id: str, rootless: bool = False, delegated_base: str = ""
) -> str | None:
    """The cgroupsPath for a container, or None when the runtime should not manage one."""
    if rootless and not delegated_base:
        return None
    return f"{pod_cgroup_parent(pod_id, delegated_base)}/{container_id}"


def cpu_shares(millis: int) -> int:
    """Kubernetes' conversion of a CPU request in millicores to cpu.shares."""
    return max(MIN_SHARES, min(MAX_SHARES, millis * 1024 // 1000))


def cpu_quota(millis: int) -> int:
    """CFS quota in microseconds per CPU_PERIOD_US for a CPU limit in millicores."""
    return max(MIN_CPU_QUOTA_US, millis * CPU_PERIOD_US // 1000)


def linux_resources(resources: ResourcePlan, pids_limit: int | None = None) -> dict:
    """OCI linux.resources for a container's requests and limits (only the fields that are set)."""
    out: dict = {}
    memory: dict = {}
    if resources.memory_limit is not None:
        memory["limit"] = resources.memory_limit
    if resources.memory_request is not None:
        memory["reservation"] = resources.memory_request
    if memory:
        out["memory"] = memory
    cpu: dict = {}
    # a limit without a request implies request = limit, as the Kubernetes API defaults it
    request = resources.cpu_request_millis
    if request is None:
        request = resources.cpu_limit_millis
    if request is not None:
        cpu["shares"] = cpu_shares(request)
    if resources.cpu_limit_millis is not None:
        cpu["quota"] = cpu_quota(resources.cpu_limit_millis)
        cpu["period"] = CPU_PERIOD_US
    if cpu:
        out["cpu"] = cpu
    if pids_limit is not None:
        out["pids"] = {"limit": pids_limit}
    return out


def with_cgroups_path(path: str | None) -> SpecOption:
    def apply(spec: dict) -> None:
        linux = spec.setdefault("linux", {})
        if path is None:
            linux.pop("cgroupsPath", None)
        else:
            linux["cgroupsPath"] = path

    return apply


def with_resources(resources: ResourcePlan, pids_limit: int | None = None) -> SpecOption:
    """Merge the container's limits into linux.resources, keeping device rules already there."""
    wanted = linux_resources(resources, pids_limit)

    def apply(spec: dict) -> None:
        spec.setdefault("linux", {}).setdefault("resources", {}).update(wanted)

    return apply


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def cgroup_mountpoints(mountinfo: str) -> list[Path]:
    """Mount points of every cgroup (v1) and cgroup2 hierarchy listed in a mountinfo text."""
    points: list[Path] = []
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        fields = before.split()
        fstype = after.split()[0] if after.split() else ""
        if fstype in ("cgroup", "cgroup2") and len(fields) >= 5:
            point = Path(_unescape(fields[4]))
            if point not in points:
                points.append(point)
    return points


def pod_cgroup_paths(
    pod_id: str, mountinfo: Path = MOUNTINFO, delegated_base: str = ""
) -> list[Path]:
    """Existing host directories of a pod's cgroup, one per mounted hierarchy."""
    try:
        text = mountinfo.read_text()
    except OSError:
        return []
    relative = pod_cgroup_parent(pod_id, delegated_base).lstrip("/")
    return [point / relative for point in cgroup_mountpoints(text) if (point / relative).is_dir()]


def remove_top_cgroups(mountinfo: Path = MOUNTINFO) -> list[Path]:
    """rmdir kubeplay's own top cgroup (/kubeplay) in every hierarchy where no pod of any store is
    left below it; returns the directories removed. The kernel refuses (EBUSY) while it holds a pod,
    so another store's pods are never touched."""
    try:
        text = mountinfo.read_text()
    except OSError:
        return []
    removed: list[Path] = []
    for point in cgroup_mountpoints(text):
        top = point / CGROUP_PREFIX.lstrip("/")
        try:
            os.rmdir(top)
        except OSError:  # not there, or still holding pods
            continue
        removed.append(top)
    return removed


def remove_pod_cgroups(
    pod_id: str, mountinfo: Path = MOUNTINFO, delegated_base: str = ""
) -> list[Path]:
    """rmdir a pod's cgroup directories bottom-up; returns those still there (busy or not ours).

    Only rmdir is used: the kernel removes a cgroup's control files with it and refuses (EBUSY)
    while processes remain, so nothing live is ever torn away.
    """
    leftovers: list[Path] = []
    for top in pod_cgroup_paths(pod_id, mountinfo, delegated_base):
        for dirpath, _, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    leftovers.append(Path(dirpath))
    return leftovers

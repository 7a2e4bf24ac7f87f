"""CPU and memory of running containers, read from their cgroups (v1, v2, or both as on a hybrid
host), as `kubectl top pod` shows them: CPU in millicores over a short sample, memory as the
working set (usage minus the inactive file cache, what the kubelet reports and evicts on).

A container's cgroups are found through its process (/proc/PID/cgroup), not through the layout
kubeplay asked the runtime for, so the figures are right whichever cgroup driver or delegated
subtree placed it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.model.record import ContainerRole, ContainerStatus, PodRecord

PROC = Path("/proc")


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy: where it is, which part of it is mounted, its controllers."""

    mount_point: Path
    root: str
    controllers: frozenset[str]  # v1 controllers; empty for the unified (v2) hierarchy
    unified: bool


@dataclass(frozen=True)
class Usage:
    """One container's figures: CPU used so far (nanoseconds) and its working set (bytes)."""

    cpu_nanos: int | None
    memory_bytes: int | None


@dataclass(frozen=True)
class ContainerTop:
    pod: str
    container: str
    cpu_millis: int | None
    memory_bytes: int | None


def hierarchies(mountinfo: str) -> list[Hierarchy]:
    """The cgroup hierarchies of a mountinfo text, first mount of each."""
    found: dict[tuple, Hierarchy] = {}
    for line in mountinfo.splitlines():
        before, separator, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not separator or len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        unified = tail[0] == "cgroup2"
        controllers = frozenset() if unified else frozenset(
            option for option in tail[2].split(",") if option not in ("rw", "ro") and "=" not in option)
        key = (unified, controllers)
        if key not in found:
            found[key] = Hierarchy(Path(_unescape(fields[4])), _unescape(fields[3]), controllers, unified)
    return list(found.values())


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


def cgroup_dirs(pid: int, known: list[Hierarchy], proc: Path = PROC) -> dict[str, Path]:
    """Directories of the process's cgroups by controller name ("" for the unified hierarchy)."""
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return {}
    dirs: dict[str, Path] = {}
    for line in text.splitlines():
        number, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if not number:
            continue
        wanted = frozenset(name for name in names.split(",") if name) if names else None
        for hierarchy in known:
            if (wanted is None) != hierarchy.unified or (wanted is not None and wanted != hierarchy.controllers):
                continue
            relative = path[len(hierarchy.root):] if hierarchy.root != "/" and path.startswith(hierarchy.root) else path
            directory = hierarchy.mount_point / relative.lstrip("/")
            for name in (hierarchy.controllers or {""}):
                dirs[name] = directory
    return dirs


def read_usage(dirs: dict[str, Path]) -> Usage:
    """CPU nanoseconds and working-set bytes from the first hierarchy that has them."""
    return Usage(_cpu_nanos(dirs), _working_set(dirs))


def _cpu_nanos(dirs: dict[str, Path]) -> int | None:
    v1 = dirs.get("cpuacct")
    if v1 is not None:
        value = _number(v1 / "cpuacct.usage")
        if value is not None:
            return value
    unified = dirs.get("")
    if unified is not None:
        micros = _stat(unified / "cpu.stat").get("usage_usec")
        if micros is not None:
            return micros * 1000
    return None


def _working_set(dirs: dict[str, Path]) -> int | None:
    v1 = dirs.get("memory")
    if v1 is not None:
        usage = _number(v1 / "memory.usage_in_bytes")
        if usage is not None:
            return max(0, usage - _stat(v1 / "memory.stat").get("total_inactive_file", 0))
    unified = dirs.get("")
    if unified is not None:
        usage = _number(unified / "memory.current")
        if usage is not None:
            return max(0, usage - _stat(unified / "memory.stat").get("inactive_file", 0))
    return None


def _number(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def sample(pods: list[PodRecord], seconds: float, mountinfo: Path = PROC / "self" / "mountinfo") -> list[ContainerTop]:
    """Each running container's CPU over `seconds` and its working set at the end."""
    try:
        known = hierarchies(mountinfo.read_text())
    except OSError:
        known = []
    watched = [(pod.name, c.name, cgroup_dirs(c.pid, known)) for pod in pods for c in pod.containers
               if c.role is not ContainerRole.INFRA and c.status is ContainerStatus.RUNNING and c.pid]
    before = [_cpu_nanos(dirs) for _, _, dirs in watched]
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    tops = []
    for (pod, container, dirs), first in zip(watched, before):
        now = read_usage(dirs)
        millis = None
        if first is not None and now.cpu_nanos is not None and elapsed > 0:
            millis = round((now.cpu_nanos - first) / elapsed / 1e6)
        tops.append(ContainerTop(pod, container, millis, now.memory_bytes))
    return tops

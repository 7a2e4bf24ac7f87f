"""Memory of idle pods: the PSS of every process that exists only because the pods run.

For both engines that set is the conmon processes that carry the engine's private state directory
on their command line, everything below them (runc's container init: catatonit for the infra,
the members' processes), and any other process naming that directory (a per-pod helper, or a
kubeplay process that should have exited). PSS splits shared pages among the processes sharing
them, so summing it over the set does not count shared libraries twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def _ppid_map() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _cmdline(pid: int) -> list[bytes]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def pss_kib(pid: int) -> int:
    try:
        for line in (Path("/proc") / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class PodProcesses:
    conmons: list[int]
    descendants: list[int]
    others: list[int]  # neither conmon nor below one, yet naming the engine's directory

    @property
    def all(self) -> list[int]:
        return self.conmons + self.descendants + self.others

    def pss_kib(self) -> int:
        return sum(pss_kib(pid) for pid in self.all)


def pod_processes(state_dir: Path) -> PodProcesses:
    needle = str(state_dir).encode()
    parents = _ppid_map()
    conmons, others = [], []
    for pid in parents:
        argv = _cmdline(pid)
        if not argv or not any(needle in arg for arg in argv):
            continue
        (conmons if argv[0].endswith(b"conmon") else others).append(pid)
    below: list[int] = []
    frontier = set(conmons)
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in below]
        below += children
        frontier = set(children)
    others = [pid for pid in others if pid not in below]
    return PodProcesses(sorted(conmons), sorted(below), sorted(others))


def kubeplay_processes(state_dir: Path) -> list[int]:
    """kubeplay's own processes (python running the CLI) still alive and bound to `state_dir`."""
    processes = pod_processes(state_dir)
    found = []
    for pid in processes.others + processes.descendants:
        argv = _cmdline(pid)
        if argv and b"python" in argv[0].rsplit(b"/", 1)[-1] or any(arg.endswith(b"/kubeplay") for arg in argv[:2]):
            found.append(pid)
    return found

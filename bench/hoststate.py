"""Host-wide things the engines leave behind outside their own directories, and undoing them.

Podman's CNI backend makes a bridge (cni-podman*), iptables chains (CNI-HOSTPORT-*, CNI-FORWARD),
IPAM lease directories under /var/lib/cni/networks and a lock in /dev/shm; kubeplay makes a bridge
and its nftables table, removed by `kubeplay network rm`. A snapshot taken before the bench says
what was already there, so cleanup removes only what the bench made.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

CNI_STATE = Path("/var/lib/cni")
ENGINE_CGROUPS = ("libpod_parent", "kubeplay")
CNI_LEASES = CNI_STATE / "networks"
SHM_LOCK = Path("/dev/shm/libpod_lock")
IPTABLES_TABLES = ("nat", "filter")


def _run(argv: list[str], input: str | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, input=input)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def links() -> set[str]:
    return {line.split()[0].split("@")[0] for line in _run(["ip", "-br", "link"]).splitlines() if line.strip()}


def nft_tables() -> set[str]:
    return {line.strip().removeprefix("table ") for line in _run(["nft", "list", "tables"]).splitlines()
            if line.startswith("table ")}


def iptables_table(table: str) -> str:
    return _run(["iptables-save", "-t", table])


def mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if target.startswith(prefix):
            found.append(target)
    return found


@dataclass(frozen=True)
class HostSnapshot:
    links: frozenset[str]
    nft_tables: frozenset[str]
    iptables: dict[str, str]
    cni_leases: frozenset[str]
    shm_lock: bool
    cni_state: bool
    top_cgroups: frozenset[Path] = frozenset()

    @classmethod
    def take(cls) -> HostSnapshot:
        leases = frozenset(p.name for p in CNI_LEASES.iterdir()) if CNI_LEASES.is_dir() else frozenset()
        return cls(frozenset(links()), frozenset(nft_tables()),
                   {t: iptables_table(t) for t in IPTABLES_TABLES}, leases, SHM_LOCK.exists(),
                   CNI_STATE.exists(), frozenset(engine_top_cgroups()))


def engine_top_cgroups() -> list[Path]:
    """The engines' parent cgroups (podman's libpod_parent, kubeplay's own) in every hierarchy."""
    return [top for top in Path("/sys/fs/cgroup").glob("*/*") if top.name in ENGINE_CGROUPS and top.is_dir()]


def _has_cni_rules(dump: str) -> bool:
    return bool(re.search(r"^[:-].*CNI-", dump, re.MULTILINE))


def restore_podman_traces(before: HostSnapshot) -> list[str]:
    """Remove what the engines left since `before` (podman's CNI networking, the engines' parent
    cgroups); returns what was removed."""
    removed = []
    for name in sorted(links() - before.links):
        if name.startswith("cni-podman"):
            _run(["ip", "link", "del", name])
            removed.append(f"link {name}")
    for family_table in sorted(nft_tables() - before.nft_tables):
        family, _, table = family_table.partition(" ")
        if family in ("ip", "ip6") and table in ("nat", "filter"):
            # made by iptables-nft on podman's behalf: nothing else of ours lives in it
            _run(["nft", "delete", "table", family, table])
            removed.append(f"nft table {family_table}")
    for table in IPTABLES_TABLES:
        if f"ip {table}" in before.nft_tables and _has_cni_rules(iptables_table(table)) \
                and not _has_cni_rules(before.iptables[table]):
            _run(["iptables-restore", "-T", table], input=before.iptables[table])
            removed.append(f"iptables {table}: CNI chains")
    if CNI_LEASES.is_dir():
        for entry in CNI_LEASES.iterdir():
            if entry.name not in before.cni_leases:
                subprocess.run(["rm", "-rf", str(entry)], timeout=30, check=False)
                removed.append(str(entry))
    if CNI_STATE.exists() and not before.cni_state:
        subprocess.run(["rm", "-rf", str(CNI_STATE)], timeout=30, check=False)
        removed.append(str(CNI_STATE))
    if SHM_LOCK.exists() and not before.shm_lock:
        SHM_LOCK.unlink()
        removed.append(str(SHM_LOCK))
    for top in sorted(set(engine_top_cgroups()) - before.top_cgroups):
        for directory, _, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(directory)  # a cgroup with processes refuses: nothing live is torn away
            except OSError:
                pass
        if not top.exists():
            removed.append(f"cgroup {top}")
    return removed


def unmount_below(path: Path) -> list[str]:
    """Lazily unmount anything still mounted under `path`, deepest first."""
    targets = sorted(mounts_below(path), key=len, reverse=True)
    for target in targets:
        subprocess.run(["umount", "-l", target], capture_output=True, timeout=30, check=False)
    return targets


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (other than this process)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def own_cgroups() -> dict[str, str]:
    """This process's cgroup v1 paths by controller (e.g. {"devices": "/"})."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                paths[controller] = path
    return paths


def return_to_cgroups(original: dict[str, str]) -> list[str]:
    """Move this process back where it started if something moved it (a devices cgroup then makes
    even /dev/null unopenable); returns the cgroups it was found in."""
    moved = []
    for controller, path in own_cgroups().items():
        wanted = original.get(controller)
        if wanted is None or wanted == path or controller.startswith("name="):
            continue
        moved.append(f"{controller}:{path}")
        procs = Path("/sys/fs/cgroup") / controller / wanted.lstrip("/") / "cgroup.procs"
        try:
            procs.write_text(str(os.getpid()))
        except OSError:
            pass
    return moved

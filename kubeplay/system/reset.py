"""`system reset`: remove everything kubeplay made for one store (--root and --runroot).

Order matters: pods first (as `pod rm -f`: containers, veths, hostPort rules, leases, mounts,
cgroups), then Services (their rules in `inet kubeplay-services`), then networks (bridge, masquerade chain, record), then the nftables table and kubeplay's
top cgroup, then the store's directories.

The nftables rule: several stores share the table `inet kubeplay`. Reset removes this store's pod and
network chains only, and deletes the table itself only when no pod or network chain of any other
store is left in it. A test root that wants to leave the host untouched plays on its own network
and resets: the table goes away with the last store that used it. kubeplay's top cgroup
(/kubeplay in each hierarchy) goes the same way: the kernel refuses to remove it while any store's
pod is below it.

The directories are removed only after every mount below them is detached, so a hostPath or a
volume bind-mounted somewhere below can never be deleted through its mount. Removing the pods takes
down their mounts and namespaces; whatever of that kind is still there afterwards was left by
something else (a pod whose record was lost, a crashed command) and is reported on its own, so that
a reset which had to take down strays says so.

Running pods are killed at once, as `pod rm -f -t 0` does: their data goes with the store, and
waiting each pod's grace period in turn would make resetting a store of many pods take minutes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.errors import HostError, KubeplayError, StoreCorrupted, UserError
from kubeplay.logs import get_logger
from kubeplay.pods import mounts
from kubeplay.pods.engine import Engine

log = get_logger(__name__)


@dataclass
class ResetReport:
    """What `system reset` removed, kept, and could not remove."""

    pods: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # namespace/name
    networks: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # nftables tables deleted
    tables_kept: list[str] = field(default_factory=list)  # still used by another store
    cgroups: list[str] = field(default_factory=list)  # kubeplay's top cgroup, where no store has pods
    namespaces: list[str] = field(default_factory=list)  # pinned namespaces no pod record named
    mounts: list[str] = field(default_factory=list)  # taken down below the directories before removing them
    directories: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_resettable(settings: Settings) -> None:
    """Refuse roots whose removal would take more than a store: `/`, `/tmp`, `/var` and the like."""
    for path in (settings.root, settings.runroot):
        resolved = Path(path).resolve()
        if len(resolved.parts) < 3:  # "/" + at least two components, e.g. /tmp/kp-x, /var/lib/kubeplay
            raise UserError(f"refusing to reset {resolved}: it is not a kubeplay store directory",
                            hint="give --root and --runroot directories that only kubeplay uses")


def reset(settings: Settings) -> ResetReport:
    """Remove every pod, network, rule and file of the store; problems are collected, not fatal."""
    check_resettable(settings)
    report = ResetReport()
    if settings.root.exists() or settings.runroot.exists():
        tables = _remove_recorded(settings, report)
        if os.geteuid() == 0:  # only root can have installed rules, and only root may read the table
            _remove_tables(tables, report)
        if not settings.rootless:  # a rootless store's cgroups live in its user's delegated subtree
            _remove_top_cgroups(report)
        _remove_netns_leftovers(settings, report)
    for directory in (settings.runroot, settings.root):
        _remove_directory(directory, report)
    return report


def _remove_recorded(settings: Settings, report: ResetReport) -> set[str]:
    """The pods and networks the store records; a corrupted database records nothing readable, and
    resetting is then the way out: what is left on the host is found without it."""
    engine = Engine(settings)
    try:
        engine.db  # noqa: B018 - opened now, so a damaged file is met here
    except StoreCorrupted as exc:
        log.warning("%s; its pods and networks cannot be listed, the store's files are removed", exc.message)
        return set()
    try:
        _remove_pods(engine, report)
        _remove_services(engine, report)
        return _remove_networks(engine, report)
    finally:
        engine.db.close()


def _attempt(report: ResetReport, step, *args) -> bool:
    try:
        step(*args)
        return True
    except KubeplayError as exc:
        report.problems.append(exc.message)
    except OSError as exc:
        report.problems.append(str(exc))
    return False


def _remove_pods(engine: Engine, report: ResetReport) -> None:
    from kubeplay.pods.lifecycle import remove_pod

    for name in engine.store.pod_names():  # by name: a pod whose plan cannot be read is a problem, not the end
        if _attempt(report, lambda name: remove_pod(engine, name, force=True, grace=0), name):
            report.pods.append(name)


def _remove_services(engine: Engine, report: ResetReport) -> None:
    """The store's Services and their rules; the Service table goes with the last store using it."""
    from kubeplay.store.services import ServiceStore

    store = ServiceStore(engine.db)
    records = store.list()
    if os.geteuid() == 0 and not engine.settings.rootless:
        from kubeplay.net import services
        from kubeplay.pods.network import port_scope

        scope = port_scope(engine)
        keys = [(services.service_key(r.namespace, r.name, scope), None) for r in records]
        if _attempt(report, services.write_services, keys):
            _attempt(report, services.remove_table_if_unused)
    for record in records:
        if _attempt(report, store.remove, record.namespace, record.name):
            report.services.append(f"{record.namespace}/{record.name}")


def _remove_networks(engine: Engine, report: ResetReport) -> set[str]:
    """Every network of the store; returns the nftables tables they used."""
    from kubeplay.net import nftables
    from kubeplay.net.bridge import nft_table, remove_bridge
    from kubeplay.net.veth import veth_scope
    from kubeplay.store.network import delete_network, drop_leases, list_network_records

    tables = {nftables.TABLE}
    for record in list_network_records(engine.db):
        tables.add(nft_table(record))
        drop_leases(engine.db, record.name)  # leases of pods whose records are already gone
        if (_attempt(report, remove_bridge, record, veth_scope(engine.settings))
                and _attempt(report, delete_network, engine.db, record.name)):
            report.networks.append(record.name)
    return tables


def _remove_tables(tables: set[str], report: ResetReport) -> None:
    from kubeplay.net import nftables

    for table in sorted(tables):
        try:
            objects = nftables.table_objects(table)
            if not objects:
                continue
            if nftables.foreign_chains(objects):
                report.tables_kept.append(table)
                continue
            nftables.remove_table(table=table)
            report.tables.append(table)
        except KubeplayError as exc:
            report.problems.append(exc.message)


def _remove_top_cgroups(report: ResetReport) -> None:
    from kubeplay.oci.cgroups import CGROUP_PREFIX, remove_top_cgroups

    if remove_top_cgroups():
        report.cgroups.append(CGROUP_PREFIX)


def _remove_netns_leftovers(settings: Settings, report: ResetReport) -> None:
    """Namespaces of pods whose records were lost (a play killed halfway)."""
    from kubeplay.net.netns import netns_dir, remove_netns

    directory = netns_dir(settings)
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if _attempt(report, remove_netns, path):
                report.namespaces.append(str(path))


def _remove_directory(directory: Path, report: ResetReport) -> None:
    if not directory.exists():
        return
    for point in mounts.mounts_below(directory):
        try:
            mounts.unmount(Path(point))  # detached: rmtree below cannot walk into a busy mount
        except HostError:
            report.problems.append(f"cannot unmount {point}; {directory} was kept")
            return
        report.mounts.append(point)
    if mounts.mounts_below(directory):
        report.problems.append(f"mounts remain below {directory}; it was kept")
        return
    try:
        shutil.rmtree(directory)
    except OSError as exc:
        report.problems.append(f"cannot remove {directory}: {exc}")
        return
    report.directories.append(str(directory))

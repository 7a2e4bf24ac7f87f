"""The pod listing: batched store reads, overviews without plans, reconcile, and its start-up cost."""

from __future__ import annotations

import os
import subprocess

import pytest

from kubeplay.config import Settings
from kubeplay.model.plan import ContainerPlan, PodPlan
from kubeplay.model.record import ContainerRole, ContainerStatus, PodPhase
from kubeplay.pods.status import derive_phase, display_status, reconcile_pod, reconciled_overviews, session_id
from kubeplay.store.db import open_database
from kubeplay.store.pods import PodStore
from tests.support.cli import kubeplay_modules_after


@pytest.fixture
def settings(tmp_path) -> Settings:
    made = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    made.ensure_dirs()
    return made


@pytest.fixture
def store(settings):
    db = open_database(settings.root)
    yield PodStore(db)
    db.close()


def add_pod(store: PodStore, settings: Settings, name: str, *, restart_policy: str = "Always",
            pid: int | None = None, boot_id: str | None = None, namespace: str = "default") -> PodPlan:
    """A pod with an infra, an init and two members; the members run as `pid` when given."""
    members = (ContainerPlan(name="web", image="localhost/web:1"), ContainerPlan(name="side", image="localhost/side:1"))
    init = ContainerPlan(name="setup", image="localhost/setup:1")
    plan = PodPlan(name=name, namespace=namespace, containers=members, init_containers=(init,),
                   restart_policy=restart_policy)
    store.add_pod(f"id-{name}", plan)
    # added out of display order on purpose: the store orders infra, init, members by position
    store.add_container(f"{name}-side", plan.key, "side", ContainerRole.MEMBER, 1, "sha256:s", members[1])
    store.add_container(f"{name}-web", plan.key, "web", ContainerRole.MEMBER, 0, "sha256:w", members[0])
    store.add_container(f"{name}-setup", plan.key, "setup", ContainerRole.INIT, 0, "sha256:i", init)
    store.add_container(f"{name}-infra", plan.key, f"{name}-infra", ContainerRole.INFRA, 0, None, None)
    store.set_container_state(f"{name}-setup", status=ContainerStatus.EXITED, exit_code=0)
    if pid is not None:
        boot = session_id(settings) if boot_id is None else boot_id
        for member in ("web", "side", "infra"):
            store.set_container_state(f"{name}-{member}", status=ContainerStatus.RUNNING, pid=pid, boot_id=boot)
        store.set_pod_state(plan.key, phase=PodPhase.RUNNING, ip="10.90.0.2")
    return plan


class CountingDatabase:
    """The real database, counting the queries made through it."""

    def __init__(self, db) -> None:
        self.db, self.queries = db, 0

    def query(self, sql, params=()):
        self.queries += 1
        return self.db.query(sql, params)

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_list_pods_reads_every_pod_in_two_queries_with_plans_and_ordered_containers(store, settings):
    plans = {name: add_pod(store, settings, name) for name in ("a", "b", "c")}
    counting = CountingDatabase(store.db)
    records = PodStore(counting).list_pods()
    assert counting.queries == 2
    assert [r.name for r in records] == ["a", "b", "c"]
    for record in records:
        assert record.plan == plans[record.name]
        assert [c.name for c in record.containers] == [f"{record.name}-infra", "setup", "web", "side"]
        assert [c.plan.image if c.plan else None for c in record.containers] == \
            [None, "localhost/setup:1", "localhost/web:1", "localhost/side:1"]


def test_find_pod_reads_only_its_own_containers(store, settings):
    add_pod(store, settings, "one")
    add_pod(store, settings, "two")
    record = store.get_pod("two")
    assert {c.pod for c in record.containers} == {"two"} and len(record.containers) == 4
    assert store.find_pod("three") is None


def test_overviews_carry_status_without_plans(store, settings):
    add_pod(store, settings, "x", restart_policy="OnFailure", namespace="team", pid=os.getpid())
    counting = CountingDatabase(store.db)
    [overview] = PodStore(counting).pod_overviews()
    assert counting.queries == 2
    assert (overview.name, overview.id, overview.namespace, overview.restart_policy) == ("x", "id-x", "team", "OnFailure")
    assert overview.key == "team_x"
    assert (overview.phase, overview.ip) == (PodPhase.RUNNING, "10.90.0.2")
    assert [c.name for c in overview.containers] == ["x-infra", "setup", "web", "side"]
    assert all(c.plan is None for c in overview.containers)
    assert overview.containers[2].status is ContainerStatus.RUNNING and overview.containers[2].boot_id


@pytest.mark.parametrize("restart_policy", ["Always", "Never"])
def test_phase_and_status_are_the_same_from_a_record_or_an_overview(store, settings, restart_policy):
    add_pod(store, settings, "p", restart_policy=restart_policy)
    store.set_container_state("p-web", status=ContainerStatus.EXITED, exit_code=3)
    store.set_container_state("p-side", status=ContainerStatus.EXITED, exit_code=0)
    record, [overview] = store.get_pod("p"), store.pod_overviews()
    assert derive_phase(record) is derive_phase(overview)
    assert display_status(record) == display_status(overview)
    assert derive_phase(overview) is (PodPhase.RUNNING if restart_policy == "Always" else PodPhase.FAILED)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait(timeout=10)
    return child.pid


def test_reconcile_marks_a_dead_container_exited_and_rereads(store, settings):
    add_pod(store, settings, "live", pid=os.getpid())
    add_pod(store, settings, "gone", pid=dead_pid())
    overviews = {o.name: o for o in reconciled_overviews(store, settings)}
    assert [c.status for c in overviews["live"].containers if c.role is ContainerRole.MEMBER] == [ContainerStatus.RUNNING] * 2
    gone = [c for c in overviews["gone"].containers if c.role is ContainerRole.MEMBER]
    assert [(c.status, c.reason) for c in gone] == [(ContainerStatus.EXITED, "Error")] * 2
    assert store.get_pod("gone").containers[2].status is ContainerStatus.EXITED


def test_reconcile_distrusts_a_pid_recorded_under_another_session(store, settings):
    add_pod(store, settings, "old", pid=os.getpid(), boot_id="an-earlier-boot")
    record = reconcile_pod(store, settings, store.get_pod("old"))
    members = [c for c in record.containers if c.role is ContainerRole.MEMBER]
    assert {(c.status, c.reason) for c in members} == {(ContainerStatus.EXITED, "host rebooted or run root removed")}
    # restartPolicy Always, but nothing is left to restart it after a reboot: Stopped, not Running
    assert derive_phase(record) is PodPhase.STOPPED
    assert record.reason == "host rebooted or run root removed"
    [overview] = reconciled_overviews(store, settings)
    assert display_status(overview) == "Stopped"


def test_a_pod_waiting_for_a_restart_before_a_reboot_is_stopped_after_it(store, settings):
    """Every container recorded exited (a restart was due) in an earlier session: no restart will
    come, so the pod must not read Running."""
    add_pod(store, settings, "waiting", pid=os.getpid(), boot_id="an-earlier-boot")
    for container in store.get_pod("waiting").containers:
        store.set_container_state(container.id, status=ContainerStatus.EXITED, exit_code=1, pid=None,
                                  reason="CrashLoopBackOff")
    [overview] = reconciled_overviews(store, settings)
    assert display_status(overview) == "Stopped"
    assert store.get_pod("waiting").reason == "host rebooted or run root removed"


def test_a_pod_that_ran_in_this_session_keeps_waiting_for_its_restart(store, settings):
    from kubeplay.pods.status import session_id

    add_pod(store, settings, "now", pid=os.getpid(), boot_id=session_id(settings))
    for container in store.get_pod("now").containers:
        store.set_container_state(container.id, status=ContainerStatus.EXITED, exit_code=1, pid=None,
                                  reason="CrashLoopBackOff")
    [overview] = reconciled_overviews(store, settings)
    assert derive_phase(overview) is PodPhase.RUNNING and display_status(overview) == "CrashLoopBackOff"


def test_pods_command_lists_without_creating_the_plan_classes(store, settings):
    add_pod(store, settings, "shown", pid=os.getpid())
    argv = ["--root", str(settings.root), "--runroot", str(settings.runroot), "pods"]
    stdout, loaded = kubeplay_modules_after(argv)
    assert stdout.splitlines()[1].split()[:4] == ["shown", "2/2", "Running", "0"], stdout
    assert "kubeplay.model.plan" not in loaded and "kubeplay.model.serial" not in loaded


def test_a_pods_plan_is_read_alone_in_one_query(store, settings):
    plan = add_pod(store, settings, "web")
    from kubeplay.errors import NotFoundError
    from kubeplay.store.plans import read_pod_plan

    counting = CountingDatabase(store.db)
    assert read_pod_plan(counting, "web") == plan
    assert counting.queries == 1
    with pytest.raises(NotFoundError, match='no pod named "gone"'):
        read_pod_plan(store.db, "gone")


def test_generate_tells_a_missing_pod_before_decoding_any_plan(store, settings):
    add_pod(store, settings, "web")
    argv = ["--root", str(settings.root), "--runroot", str(settings.runroot), "generate", "web", "gone"]
    stdout, loaded = kubeplay_modules_after(argv)
    assert stdout == ""
    assert "kubeplay.store.plans" in loaded  # the store was asked, found "web" and not "gone"
    assert "kubeplay.model.plan" not in loaded and "kubeplay.model.serial" not in loaded

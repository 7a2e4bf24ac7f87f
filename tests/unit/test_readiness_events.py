"""Readiness in the store (gated containers, READY, conditions) and pods' events."""

from __future__ import annotations

import pytest

from kubeplay.config import Settings
from kubeplay.controllers.readiness import container_ready, is_ready, pod_conditions, ready_count
from kubeplay.model.plan import ActionPlan, ContainerPlan, PodPlan, ProbePlan
from kubeplay.model.record import ContainerRole, ContainerStatus, PodPhase
from kubeplay.store.db import open_database
from kubeplay.store.events import KEEP_PER_POD, EventStore
from kubeplay.store.pods import PodStore

HTTP = ProbePlan(action=ActionPlan(kind="httpGet", port=8080, path="/"))
GRPC = ProbePlan(action=ActionPlan(kind="grpc", port=9000))


@pytest.fixture
def db(tmp_path):
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    opened = open_database(settings.root)
    yield opened
    opened.close()


def add(store: PodStore, *containers: ContainerPlan) -> None:
    store.add_pod("id-web", PodPlan(name="web", containers=containers))
    for position, plan in enumerate(containers):
        store.add_container(f"c-{plan.name}", "web", plan.name, ContainerRole.MEMBER, position, "sha256:x", plan)
        store.set_container_state(f"c-{plan.name}", status=ContainerStatus.RUNNING, pid=1, started_at=100.0 + position)
    store.set_pod_state("web", phase=PodPhase.RUNNING)


def test_only_containers_with_readiness_startup_or_post_start_wait_for_the_monitor(db):
    store = PodStore(db)
    add(store, ContainerPlan(name="plain", image="i", liveness_probe=HTTP),
        ContainerPlan(name="probed", image="i", readiness_probe=HTTP),
        ContainerPlan(name="hooked", image="i", post_start=ActionPlan(kind="sleep", seconds=1)),
        ContainerPlan(name="grpc", image="i", readiness_probe=GRPC))
    gated = {c.name: c.readiness_gated for c in store.containers("web")}
    assert gated == {"plain": False, "probed": True, "hooked": True, "grpc": False}
    pod = store.get_pod("web")
    assert ready_count(pod) == (2, 4) and not is_ready(pod)
    store.set_container_state("c-probed", ready=True, ready_changed_at=200.0)
    store.set_container_state("c-hooked", ready=True, ready_changed_at=300.0)
    pod = store.get_pod("web")
    assert ready_count(pod) == (4, 4) and is_ready(pod)
    assert {c["type"]: c["status"] for c in pod_conditions(pod)} == \
        {"Initialized": "True", "ContainersReady": "True", "Ready": "True"}
    ready = next(c for c in pod_conditions(pod) if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "1970-01-01T00:05:00Z"  # when the last container became ready
    # an exited container is never ready, whatever its flag says
    store.set_container_state("c-probed", status=ContainerStatus.EXITED, finished_at=400.0)
    pod = store.get_pod("web")
    assert not container_ready(next(c for c in pod.containers if c.name == "probed"))
    ready = next(c for c in pod_conditions(pod) if c["type"] == "Ready")
    assert ready == {"type": "Ready", "status": "False", "lastTransitionTime": "1970-01-01T00:06:40Z"}


def test_the_listing_counts_ready_members_without_decoding_plans(db):
    store = PodStore(db)
    add(store, ContainerPlan(name="probed", image="i", readiness_probe=HTTP), ContainerPlan(name="plain", image="i"))
    [overview] = store.pod_overviews()
    assert ready_count(overview) == (1, 2)


def test_repeated_events_count_up_and_old_ones_go(db):
    store = PodStore(db)
    add(store, ContainerPlan(name="app", image="i"))
    events = EventStore(db)
    for at in (1.0, 2.0, 3.0):
        events.add("web", "app", "Warning", "Unhealthy", "Liveness probe failed: 404", at)
        events.add("web", "app", "Warning", "Unhealthy", "Readiness probe failed: 503", at)
    listed = events.list("web")
    assert [(e.message, e.count, e.first_at, e.last_at) for e in listed] == [
        ("Liveness probe failed: 404", 3, 1.0, 3.0), ("Readiness probe failed: 503", 3, 1.0, 3.0)]
    for number in range(KEEP_PER_POD + 10):
        events.add("web", "app", "Normal", "Started", f"start {number}", 10.0 + number)
    listed = events.list("web")
    assert len(listed) == KEEP_PER_POD and listed[-1].message == f"start {KEEP_PER_POD + 9}"
    assert [e.message for e in events.list("web", limit=2)] == [f"start {KEEP_PER_POD + 8}", f"start {KEEP_PER_POD + 9}"]


def test_events_go_with_their_pod_and_none_are_added_for_a_pod_that_is_gone(db):
    store = PodStore(db)
    add(store, ContainerPlan(name="app", image="i"))
    events = EventStore(db)
    events.add("web", "app", "Normal", "Started", "Started container app")
    store.remove_pod("web")
    events.add("web", "app", "Normal", "Killing", "too late")
    assert events.list() == []


def test_pulled_events_say_how_long_a_pull_took_or_that_the_image_was_there(db):
    from kubeplay.pods.images import pulled_events

    plan = PodPlan(name="web", containers=(ContainerPlan(name="app", image="registry.test/app:1"),
                                           ContainerPlan(name="side", image="localhost/side:1")))
    made = pulled_events(plan, {"registry.test/app:1": 1.23456})
    assert made == [("app", "Normal", "Pulled", 'Successfully pulled image "registry.test/app:1" in 1.235s'),
                    ("side", "Normal", "Pulled", 'Container image "localhost/side:1" already present on machine')]
    PodStore(db).add_pod("id-web", plan)
    EventStore(db).add_all("web", made + made)  # one transaction; the same event twice counts up
    shown = EventStore(db).list("web")
    assert [(e.container, e.reason, e.count) for e in shown] == [("app", "Pulled", 2), ("side", "Pulled", 2)]

"""The job controller's counting and decisions, on records built by hand (no root, no runtime)."""

from __future__ import annotations

import pytest

from kubeplay.cli.jobs import duration
from kubeplay.model.plan import ContainerPlan, EnvVar, OwnerPlan, PodPlan
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.controllers.jobs import JobSpec, job_status, next_step, pod_outcome, renamed_plan

WORK = ContainerPlan(name="work", image="busybox")


def job_plan(name: str = "job-bcdfg", policy: str = "Never", **raw: object) -> PodPlan:
    return PodPlan(name=name, uid="uid-" + name, restart_policy=policy, containers=(WORK,),
                   labels={"job-name": "job", "controller-uid": "c-1"},
                   owner=OwnerPlan(kind="Job", name="job", raw=raw))


def pod(name: str, state: str, code: int | None = None, *, policy: str = "Never", restarts: int = 0,
        created: float = 100.0, finished: float | None = None, reason: str = "",
        phase: PodPhase = PodPhase.RUNNING, **raw: object) -> PodRecord:
    member = ContainerRecord(id=f"{name}-c", pod=name, name="work", role=ContainerRole.MEMBER, plan=WORK,
                             status=ContainerStatus(state), exit_code=code, restart_count=restarts,
                             finished_at=finished)
    infra = ContainerRecord(id=f"{name}-i", pod=name, name=f"{name}-infra", role=ContainerRole.INFRA, plan=None,
                            status=ContainerStatus.RUNNING)
    return PodRecord(name=name, id=name, plan=job_plan(name, policy, **raw), phase=phase, created_at=created,
                     containers=(infra, member), reason=reason)


def test_spec_defaults_follow_kubernetes():
    spec = JobSpec.of(OwnerPlan(kind="Job", name="j", raw={}))
    assert (spec.completions, spec.parallelism, spec.backoff_limit, spec.active_deadline_seconds) == (None, 1, 6, None)
    spec = JobSpec.of(OwnerPlan(kind="Job", name="j", raw={"completions": 3, "parallelism": 2, "backoffLimit": 0}))
    assert (spec.completions, spec.parallelism, spec.backoff_limit) == (3, 2, 0)


@pytest.mark.parametrize(("state", "code", "policy", "phase", "expected"), [
    ("running", None, "Never", PodPhase.RUNNING, "active"),
    ("exited", 0, "Never", PodPhase.RUNNING, "succeeded"),
    ("exited", 2, "Never", PodPhase.RUNNING, "failed"),
    ("exited", 2, "OnFailure", PodPhase.RUNNING, "active"),  # restarts in place
    ("exited", 143, "Never", PodPhase.STOPPED, "stopped"),
])
def test_pod_outcome(state, code, policy, phase, expected):
    assert pod_outcome(pod("p", state, code, policy=policy, phase=phase)) == expected


RAW = {"completions": 3, "parallelism": 2, "backoffLimit": 1}


@pytest.mark.parametrize(("pods", "start", "fail", "state"), [
    # first pod done, one running: one more fits under parallelism 2 and completions 3
    ([pod("a", "exited", 0, **RAW), pod("b", "running", **RAW)], 1, "", "Running"),
    # two done, one running: the running one is the last that is needed
    ([pod("a", "exited", 0, **RAW), pod("b", "exited", 0, **RAW), pod("c", "running", **RAW)], 0, "", "Running"),
    # a failure under the limit is replaced
    ([pod("a", "exited", 1, **RAW), pod("b", "running", **RAW)], 1, "", "Running"),
    # two failures pass backoffLimit 1
    ([pod("a", "exited", 1, **RAW), pod("b", "exited", 1, **RAW)], 0, "BackoffLimitExceeded", "Running"),
    ([pod(n, "exited", 0, **RAW) for n in "abc"], 0, "", "Complete"),
])
def test_next_step_counts_towards_completions_within_parallelism(pods, start, fail, state):
    status = job_status(pods)
    assert status.state == state
    step = next_step(status, now=101.0)
    assert (step.start, step.fail) == (start, fail)


def test_on_failure_counts_container_restarts_and_the_pending_one():
    running_after_restart = pod("a", "running", policy="OnFailure", restarts=1, backoffLimit=1)
    assert job_status([running_after_restart]).failed == 1
    assert next_step(job_status([running_after_restart]), 101.0).fail == ""
    failed_again = pod("a", "exited", 1, policy="OnFailure", restarts=1, backoffLimit=1)
    assert job_status([failed_again]).failed == 2
    assert next_step(job_status([failed_again]), 101.0).fail == "BackoffLimitExceeded"


def test_deadline_counts_from_the_first_pod():
    pods = [pod("a", "running", created=100.0, activeDeadlineSeconds=5)]
    assert next_step(job_status(pods), now=104.9).fail == ""
    assert next_step(job_status(pods), now=105.0).fail == "DeadlineExceeded"


def test_work_queue_without_completions_needs_one_success_and_no_active_pods():
    raw = {"parallelism": 2}
    pods = [pod("a", "exited", 0, **raw), pod("b", "running", **raw)]
    assert job_status(pods).state == "Running"
    assert next_step(job_status(pods), 101.0).start == 0  # nothing new after a success
    pods = [pod("a", "exited", 0, **raw), pod("b", "exited", 0, **raw)]
    assert job_status(pods).state == "Complete"


def test_failed_reason_on_a_pod_marks_the_job_failed_and_ends_its_duration():
    pods = [pod("a", "exited", 1, finished=107.0, reason="BackoffLimitExceeded"),
            pod("b", "exited", 143, finished=109.0, phase=PodPhase.STOPPED, reason="BackoffLimitExceeded")]
    status = job_status(pods)
    assert (status.state, status.reason, status.finished_at, status.started_at) == (
        "Failed", "BackoffLimitExceeded", 109.0, 100.0)
    assert next_step(status, 200.0).start == 0


def test_completions_text():
    assert job_status([pod("a", "exited", 0, completions=3)]).completions_text == "1/3"
    assert job_status([pod("a", "running")]).completions_text == "0/1"


def test_renamed_plan_moves_name_and_uid_fields_only():
    plan = job_plan("job-old")
    work = ContainerPlan(name="work", image="busybox", env=(
        EnvVar("POD", "job-old", source={"fieldRef": {"fieldPath": "metadata.name"}}),
        EnvVar("UID", "uid-job-old", source={"fieldRef": {"fieldPath": "metadata.uid"}}),
        EnvVar("PLAIN", "job-old"),
        EnvVar("IP", field_path="status.podIP", source={"fieldRef": {"fieldPath": "status.podIP"}}),
    ))
    plan = PodPlan(**{**plan.__dict__, "containers": (work,)})
    new = renamed_plan(plan, "job-new", "uid-new")
    assert (new.name, new.uid, new.owner, new.labels) == ("job-new", "uid-new", plan.owner, plan.labels)
    values = {var.name: (var.value, var.field_path) for var in new.containers[0].env}
    assert values == {"POD": ("job-new", None), "UID": ("uid-new", None), "PLAIN": ("job-old", None),
                      "IP": ("", "status.podIP")}


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (8.9, "8s"), (125, "2m5s"), (3 * 3600 + 240, "3h4m"),
                                               (2 * 86400 + 3 * 3600, "2d3h")])
def test_duration_as_kubectl_prints_it(seconds, text):
    assert duration(seconds) == text

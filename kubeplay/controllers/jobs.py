"""Jobs run to completion with no daemon: the exit callback of a job's containers drives the job.

`play` starts a Job's first min(parallelism, completions) pods. When one of their containers ends,
conmon runs `kubeplay container-exited`, which calls `job_container_exited` here: under the job's
lock it counts the job's pods (succeeded, failed, active), fails the job past `backoffLimit`
(stopping its active pods), or starts new pods — copies of a stored plan under new names — until
`completions` pods have succeeded, never more than `parallelism` at once. `activeDeadlineSeconds`
is watched by a detached `kubeplay jobs deadline` sleeper that ends as soon as the job is over or gone.

The job's state lives in its pods: each is a stored pod whose plan names the Job as its owner; a
failed job is marked by the reason on its pods (BackoffLimitExceeded, DeadlineExceeded). Removing
the pods (`down`) removes the job.
"""

from __future__ import annotations

import dataclasses
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kubeplay.errors import ConflictError
from kubeplay.model.plan import EnvVar, OwnerPlan, PodPlan
from kubeplay.model.record import ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.pods.engine import Engine
from kubeplay.pods.lifecycle import owned_pods, stop_pod
from kubeplay.pods.lock import job_lock
from kubeplay.pods.status import derive_phase, reconcile_pod

DEFAULT_BACKOFF_LIMIT = 6  # Kubernetes' default
FAILED_REASONS = ("BackoffLimitExceeded", "DeadlineExceeded")
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the one Kubernetes names pods with


@dataclass(frozen=True)
class JobSpec:
    """The fields of a Job that drive it to completion."""

    completions: int | None
    parallelism: int
    backoff_limit: int
    active_deadline_seconds: int | None

    @classmethod
    def of(cls, owner: OwnerPlan) -> JobSpec:
        raw = owner.raw or {}
        parallelism = raw.get("parallelism")
        backoff = raw.get("backoffLimit")
        return cls(completions=raw.get("completions"),
                   parallelism=1 if parallelism is None else int(parallelism),
                   backoff_limit=DEFAULT_BACKOFF_LIMIT if backoff is None else int(backoff),
                   active_deadline_seconds=raw.get("activeDeadlineSeconds"))


@dataclass(frozen=True)
class JobStatus:
    """Where a Job stands, counted from its pods."""

    namespace: str
    name: str
    uid: str
    spec: JobSpec
    succeeded: int
    failed: int  # failed pods, plus container restarts under restartPolicy OnFailure
    active: int
    started_at: float
    finished_at: float | None
    state: str  # Running, Complete, Failed
    reason: str = ""
    pods: tuple[str, ...] = ()

    @property
    def completions_text(self) -> str:
        return f"{self.succeeded}/{self.spec.completions or 1}"


@dataclass(frozen=True)
class Step:
    """What the job needs now: `fail` with a reason, or `start` this many new pods."""

    start: int = 0
    fail: str = ""


def is_job_pod(plan: PodPlan) -> bool:
    return plan.owner is not None and plan.owner.kind == "Job"


def job_uid(plan: PodPlan) -> str:
    return plan.labels.get("controller-uid", "")


# --- counting (pure) --------------------------------------------------------------------------

def pod_outcome(pod: PodRecord) -> str:
    """succeeded, failed, stopped or active."""
    phase = derive_phase(pod)
    if phase is PodPhase.SUCCEEDED:
        return "succeeded"
    if phase is PodPhase.FAILED:
        return "failed"
    if phase is PodPhase.STOPPED:
        return "stopped"
    return "active"


def _restart_failures(pod: PodRecord) -> int:
    """Under OnFailure a failed container restarts in place; Kubernetes counts each such failure."""
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER]
    pending = sum(1 for c in members if c.status is ContainerStatus.EXITED and c.exit_code not in (0, None)
                  and c.reason != "Stopped")
    return sum(c.restart_count for c in members) + pending


def job_status(pods: list[PodRecord], now: float | None = None) -> JobStatus:
    """The state of one job from its pods (at least one)."""
    first = pods[0].plan
    assert first.owner is not None
    spec = JobSpec.of(first.owner)
    outcomes = [pod_outcome(pod) for pod in pods]
    succeeded = outcomes.count("succeeded")
    active = outcomes.count("active")
    if first.restart_policy == "OnFailure":
        failed = outcomes.count("failed") + sum(_restart_failures(pod) for pod in pods)
    else:
        failed = outcomes.count("failed")
    reason = next((pod.reason for pod in pods if pod.reason in FAILED_REASONS), "")
    target = spec.completions or 1
    if reason:
        state = "Failed"
    elif succeeded >= target and (spec.completions is not None or active == 0):
        state = "Complete"
    else:
        state = "Running"
    finished = None
    if state != "Running":
        ends = [c.finished_at for pod in pods for c in pod.containers
                if c.role is ContainerRole.MEMBER and c.finished_at]
        finished = max(ends) if ends else now or time.time()
    return JobStatus(namespace=first.namespace, name=first.owner.name, uid=job_uid(first), spec=spec,
                     succeeded=succeeded, failed=failed, active=active,
                     started_at=min(pod.created_at for pod in pods), finished_at=finished, state=state,
                     reason=reason, pods=tuple(pod.shown_name for pod in pods))


def next_step(status: JobStatus, now: float) -> Step:
    """The controller's decision: fail, or start pods to reach completions within parallelism."""
    if status.state != "Running":
        return Step()
    spec = status.spec
    if status.failed > spec.backoff_limit:
        return Step(fail="BackoffLimitExceeded")
    if spec.active_deadline_seconds is not None and now >= status.started_at + spec.active_deadline_seconds:
        return Step(fail="DeadlineExceeded")
    if spec.completions is None:
        # a work queue: once one pod has succeeded no new ones start; failed ones are replaced
        wanted = 0 if status.succeeded else spec.parallelism - status.active
    else:
        wanted = min(spec.parallelism - status.active, spec.completions - status.succeeded - status.active)
    return Step(start=max(wanted, 0))


# --- the job's pods in the store --------------------------------------------------------------

def job_pods(engine: Engine, namespace: str, name: str) -> list[PodRecord]:
    return owned_pods(engine, "Job", namespace, name)


def list_jobs(engine: Engine) -> list[JobStatus]:
    groups: dict[tuple[str, str], list[PodRecord]] = {}
    for record in engine.store.list_pods():
        if is_job_pod(record.plan):
            assert record.plan.owner is not None
            key = (record.plan.namespace, record.plan.owner.name)
            groups.setdefault(key, []).append(reconcile_pod(engine.store, engine.settings, record))
    return [job_status(pods) for _, pods in sorted(groups.items())]


@contextmanager
def jobs_locked(engine: Engine, plans: list[PodPlan]) -> Iterator[None]:
    """Hold the lock of every Job among `plans` while they are played: the exit callback of a first
    pod that ends at once must count the job's pods only after the play has recorded all of them
    (counted before, the missing ones read as never started, and it started them again)."""
    from contextlib import ExitStack

    jobs = sorted({(plan.namespace, plan.owner.name) for plan in plans if is_job_pod(plan) and plan.owner})
    with ExitStack() as held:
        for namespace, name in jobs:  # always in the same order: two plays never wait on each other
            held.enter_context(job_lock(engine.settings, namespace, name))
        yield


# --- driving the job ---------------------------------------------------------------------------

def job_container_exited(engine: Engine, pod_name: str) -> bool:
    """Called when a member of a job pod exits. False when the job is over (no restart is due)."""
    pod = engine.store.find_pod(pod_name)
    if pod is None or pod.plan.owner is None:
        return False
    with job_lock(engine.settings, pod.plan.namespace, pod.plan.owner.name):
        pods = [p for p in job_pods(engine, pod.plan.namespace, pod.plan.owner.name)
                if job_uid(p.plan) == job_uid(pod.plan)]
        if not any(p.name == pod_name and p.phase is not PodPhase.STOPPED for p in pods):
            return False  # removed or stopped meanwhile
        return _advance(engine, pods)


def _advance(engine: Engine, pods: list[PodRecord]) -> bool:
    """Apply the controller's decision; a new pod whose init container fails counts as a failure
    at once (no exit callback will come for it), so decide again. False once the job has failed."""
    from kubeplay.pods.create import InitContainerFailed

    first = pods[0].plan
    for _ in range(JobSpec.of(first.owner).backoff_limit + 2 if first.owner else 1):
        step = next_step(job_status(pods), time.time())
        if step.fail:
            fail_job(engine, pods, step.fail)
            return False
        if not step.start:
            return True
        try:
            start_more_pods(engine, pods, step.start)
            return True
        except InitContainerFailed:
            pods = [p for p in job_pods(engine, first.namespace, first.owner.name if first.owner else "")
                    if job_uid(p.plan) == job_uid(first)]
    return True


def fail_job(engine: Engine, pods: list[PodRecord], reason: str) -> None:
    """Mark every pod of the job with the reason and stop the ones still active."""

    for pod in pods:
        engine.store.set_pod_state(pod.name, reason=reason)
    for pod in pods:
        if pod_outcome(pod) == "active":
            stop_pod(engine, pod.name, grace=min(pod.plan.termination_grace_period_seconds, 5))
            engine.store.set_pod_state(pod.name, reason=reason)


def start_more_pods(engine: Engine, pods: list[PodRecord], count: int) -> list[str]:
    """New pods from the plan of one already made, each with its own name and uid."""
    from kubeplay.pods.play import play

    template = pods[0].plan
    taken = engine.store.names_in(template.namespace)
    plans = []
    for _ in range(count):
        name = _new_name(template.owner.name if template.owner else template.name, taken)
        taken.add(name)
        plans.append(renamed_plan(template, name, str(uuid.uuid4())))
    return play(engine, plans)


def _new_name(job: str, taken: set[str]) -> str:
    rng = random.SystemRandom()
    for _ in range(100):
        name = f"{job}-" + "".join(rng.choice(SUFFIX_ALPHABET) for _ in range(5))
        if name not in taken:
            return name
    raise ConflictError(f'no free pod name for job "{job}"', hint="remove some of its pods")


def renamed_plan(plan: PodPlan, name: str, uid: str) -> PodPlan:
    """The same pod under another name: metadata.name and metadata.uid fields follow."""
    replacements = {plan.name: name, plan.uid: uid} if plan.uid else {plan.name: name}

    def env_var(var: EnvVar) -> EnvVar:
        field = ((var.source or {}).get("fieldRef") or {}).get("fieldPath")
        if field in ("metadata.name", "metadata.uid") and var.value in replacements:
            return dataclasses.replace(var, value=replacements[var.value])
        return var

    containers = tuple(dataclasses.replace(c, env=tuple(env_var(v) for v in c.env)) for c in plan.containers)
    inits = tuple(dataclasses.replace(c, env=tuple(env_var(v) for v in c.env)) for c in plan.init_containers)
    hostname = "" if plan.hostname == plan.name else plan.hostname
    return dataclasses.replace(plan, name=name, uid=uid, containers=containers, init_containers=inits,
                               hostname=hostname)


# --- activeDeadlineSeconds --------------------------------------------------------------------

def start_deadline_timers(engine: Engine, plans: list[PodPlan]) -> None:
    """One detached sleeper per job with activeDeadlineSeconds among these plans."""
    seen: set[tuple[str, str, str]] = set()
    for plan in plans:
        if not is_job_pod(plan) or plan.owner is None:
            continue
        key = (plan.namespace, plan.owner.name, job_uid(plan))
        if key in seen or JobSpec.of(plan.owner).active_deadline_seconds is None:
            continue
        seen.add(key)
        subprocess.Popen(engine.callback_argv("jobs", "deadline", *key),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)


def watch_deadline(engine: Engine, namespace: str, name: str, uid: str, poll: float = 0.5) -> str:
    """Sleep until the job's deadline, then fail it; end early once it is over or removed.

    Returns what happened: "gone", "finished" or "DeadlineExceeded"."""
    while True:
        pods = [p for p in job_pods(engine, namespace, name) if job_uid(p.plan) == uid]
        if not pods:
            return "gone"
        status = job_status(pods)
        if status.state != "Running" or status.spec.active_deadline_seconds is None:
            return "finished"
        remaining = status.started_at + status.spec.active_deadline_seconds - time.time()
        if remaining <= 0:
            break
        time.sleep(min(poll, remaining))
    with job_lock(engine.settings, namespace, name):
        pods = [p for p in job_pods(engine, namespace, name) if job_uid(p.plan) == uid]
        if not pods or job_status(pods).state != "Running":
            return "finished" if pods else "gone"
        fail_job(engine, pods, "DeadlineExceeded")
    return "DeadlineExceeded"

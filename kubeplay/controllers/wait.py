"""Waiting for pods: `play --wait` and `kubeplay wait POD... --for ready|delete|complete`.

Ready means every member is ready (kubeplay.controllers.readiness); for a pod of a Job it means
the Job is complete, as Kubernetes' `kubectl wait --for=condition=complete` would be asked. A pod
that can no longer get there (failed, stopped) ends the wait at once; a timeout ends it naming each
container that is not there yet and the last thing its probes said.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from kubeplay.errors import UserError
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.names import pod_arguments, pod_label
from kubeplay.pods.engine import Engine

CONDITIONS = ("ready", "delete", "complete")
POLL = 0.2  # seconds between looks at the store
REPORT_EVERY = 10.0  # seconds between "still waiting for ..." lines
DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?")


class WaitFailed(UserError):
    """A wait that timed out, or a pod that cannot become what was waited for."""


def parse_duration(text: str) -> float:
    """`300`, `90s`, `5m`, `1h30m`, `1m30s` as seconds."""
    match = DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise UserError(f'"{text}" is not a duration', hint="give seconds (90 or 90s), minutes (5m) or hours (1h)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _is_job(pod: PodRecord) -> bool:
    return pod.plan.owner is not None and pod.plan.owner.kind == "Job"


def _job_state(engine: Engine, pod: PodRecord) -> str:
    from kubeplay.controllers.jobs import job_pods, job_status, job_uid

    owner = pod.plan.owner
    assert owner is not None
    pods = [p for p in job_pods(engine, pod.plan.namespace, owner.name) if job_uid(p.plan) == job_uid(pod.plan)]
    return job_status(pods).state if pods else "Running"


def _check(engine: Engine, name: str, condition: str) -> tuple[bool, str]:
    """(done, why not) for one pod; raises WaitFailed when it can no longer be done."""
    from kubeplay.controllers.launch import ensure_monitor
    from kubeplay.controllers.readiness import is_ready
    from kubeplay.pods.status import derive_phase, reconcile_pod

    found = engine.store.find_pod(name)
    if condition == "delete":
        return found is None, "still exists"
    if found is None:
        raise WaitFailed(f'pod "{name}" is gone', hint="`kubeplay pods` lists the pods there are")
    pod = reconcile_pod(engine.store, engine.settings, found)
    ensure_monitor(engine, pod)  # a monitor that died is started again: its probes decide readiness
    phase = derive_phase(pod)
    if condition == "complete" or (condition == "ready" and _is_job(pod)):
        if _is_job(pod):
            state = _job_state(engine, pod)
            if state == "Failed":
                raise WaitFailed(f'pod "{name}": its Job failed', hint=f"`kubeplay logs {name}` shows why")
            return state == "Complete", f"its Job is {state.lower()}"
        if phase is PodPhase.FAILED:
            raise WaitFailed(f'pod "{name}" failed', hint=f"`kubeplay logs {name}` shows why")
        return phase is PodPhase.SUCCEEDED, f"it is {phase.value.lower()}"
    if phase in (PodPhase.FAILED, PodPhase.SUCCEEDED, PodPhase.STOPPED):
        raise WaitFailed(f'pod "{name}" will not become ready: it is {phase.value.lower()}',
                         hint=f"`kubeplay pod inspect {name}` and `kubeplay logs {name}` show why")
    return is_ready(pod), "; ".join(_unready(engine, pod))


def _unready(engine: Engine, pod: PodRecord) -> list[str]:
    """Each member that is not ready, with why: its state, or what its probes said last."""
    from kubeplay.controllers.readiness import container_ready

    initializing = _initializing(pod)
    if initializing:
        return [initializing]
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER and not container_ready(c)]
    return [f"container {c.name} is not ready: {_why(engine, pod, c)}" for c in members]


def _initializing(pod: PodRecord) -> str:
    """What an init container is doing while the members wait for it: running, or failed and
    retried with back-off; "" once every init container has completed."""
    for container in pod.containers:
        if container.role is not ContainerRole.INIT or (container.exit_code == 0 and
                                                        container.status is ContainerStatus.EXITED):
            continue
        if container.plan is not None and container.plan.restart_policy == "Always":
            continue  # a native sidecar: it keeps running beside the members
        if container.status is ContainerStatus.RUNNING:
            tries = f" (try {container.restart_count + 1})" if container.restart_count else ""
            return f"init container {container.name} is running{tries}"
        if container.exit_code not in (None, 0):
            return (f"init container {container.name} exited with code {container.exit_code} and is retried "
                    f"with back-off ({container.restart_count} restart{'s' if container.restart_count != 1 else ''} "
                    f"so far; `kubeplay logs {pod_arguments(pod.namespace, pod.shown_name)} -c {container.name}` shows why)")
        return f"init container {container.name} has not run yet"
    return ""


def _why(engine: Engine, pod: PodRecord, container: ContainerRecord) -> str:
    from kubeplay.store.events import EventStore

    if container.status is not ContainerStatus.RUNNING:
        return f"{container.status.value}" + (f" ({container.reason})" if container.reason else "")
    said = [e for e in EventStore(engine.db).list(pod.name) if e.container == container.name and e.type == "Warning"
            and (container.started_at is None or e.last_at >= container.started_at)]
    if said:
        return said[-1].message
    return "no probe has succeeded yet"


def wait_for(engine: Engine, names: list[str], condition: str = "ready", timeout: float = 300.0,
             progress: Callable[[int, int], None] | None = None,
             report: Callable[[str], None] | None = None, every: float = REPORT_EVERY) -> None:
    """Return once every named pod is `condition`; WaitFailed on timeout or when one cannot be.
    `progress(done, total)` hears how many are there after each look; `report`, when given, is told
    every `every` seconds what is still awaited and why."""
    if condition not in CONDITIONS:
        raise UserError(f'--for "{condition}" is not one of {", ".join(CONDITIONS)}', hint="for example --for ready")
    if condition != "delete":
        missing = [name for name in names if engine.store.find_pod(name) is None]
        if missing:
            from kubeplay.store.plans import pod_not_found

            raise pod_not_found(missing[0])
    started = time.monotonic()
    deadline = started + timeout
    next_report = started + every
    while True:
        waiting = {name: why for name in names for done, why in [_check(engine, name, condition)] if not done}
        if progress is not None:
            progress(len(names) - len(waiting), len(names))
        if not waiting:
            return
        now = time.monotonic()
        if report is not None and now >= next_report:
            next_report = now + every
            for name, why in waiting.items():
                report(f"waiting for pod {pod_label(name)} ({now - started:.0f}s of {timeout:g}s): {why}")
        if time.monotonic() >= deadline:
            lines = "\n".join(f"  pod {pod_label(name)}: {why}" for name, why in waiting.items())
            what = {"ready": "ready", "delete": "deleted", "complete": "complete"}[condition]
            raise WaitFailed(f"timed out after {timeout:g}s waiting for {len(waiting)} of {len(names)} pod(s) "
                             f"to be {what}:\n{lines}",
                             hint="`kubeplay events` and `kubeplay pod inspect` show what the probes said; "
                                  "a longer --timeout may be all it needs")
        time.sleep(POLL)

"""A pod's `status` as a cluster reports it (V1PodStatus): phase, conditions, startTime, podIP and
the containers' statuses with state, ready, restartCount and lastState, read from a PodRecord.

lastState is the run before the current one, kept by the store when a container starts again.
"""

from __future__ import annotations

from collections.abc import Callable

from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase

WAITING_REASONS = ("CrashLoopBackOff", "Restarting")  # an exited container that will start again


def pod_status(record, image_id: Callable[[str], str | None] = lambda container_id: None) -> dict:
    from kubeplay.controllers.readiness import pod_conditions
    from kubeplay.generate.live import rfc3339
    from kubeplay.pods.status import derive_phase

    phase = derive_phase(record)
    status: dict = {"phase": _kubernetes_phase(record, phase), "conditions": pod_conditions(record)}
    if phase is PodPhase.STOPPED:
        status["reason"] = "Stopped"
        status["message"] = "stopped by `kubeplay pod stop`; `kubeplay pod start` starts it again"
    elif record.reason:
        status["reason"] = record.reason
    if record.ip:
        status["podIP"] = record.ip
        status["podIPs"] = [{"ip": record.ip}]
    status["startTime"] = rfc3339(record.created_at)
    inits = [c for c in record.containers if c.role is ContainerRole.INIT]
    members = [c for c in record.containers if c.role is ContainerRole.MEMBER]
    if inits:
        status["initContainerStatuses"] = [container_status(c, image_id) for c in inits]
    status["containerStatuses"] = [container_status(c, image_id) for c in members] + _not_made_yet(record, members)
    status["qosClass"] = qos_class(record.plan)
    return status


def _kubernetes_phase(record, phase: PodPhase) -> str:
    """Stopped is kubeplay's own: a cluster would call a pod whose containers all ended Succeeded or Failed."""
    if phase is not PodPhase.STOPPED:
        return phase.value
    members = [c for c in record.containers if c.role is ContainerRole.MEMBER]
    return "Succeeded" if members and all(c.exit_code == 0 for c in members) else "Failed"


def container_status(container: ContainerRecord, image_id: Callable[[str], str | None]) -> dict:
    from kubeplay.controllers.readiness import container_ready

    plan = container.plan
    status = {
        "name": container.name,
        "image": plan.image if plan else "",
        "imageID": image_id(container.id) or "",
        "containerID": f"kubeplay://{container.id}",
        "ready": container_ready(container),
        "started": container.status is ContainerStatus.RUNNING,
        "restartCount": container.restart_count,
        "state": state_of(container),
        "lastState": {},
    }
    if container.status is ContainerStatus.EXITED and container.reason in WAITING_REASONS:
        status["lastState"] = {"terminated": _terminated(container)}
    elif container.last_finished_at is not None:
        status["lastState"] = {"terminated": _last_terminated(container)}
    return status


def state_of(container: ContainerRecord) -> dict:
    from kubeplay.generate.live import rfc3339

    if container.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        return {"running": {"startedAt": rfc3339(container.started_at)}}
    if container.status is ContainerStatus.EXITED and container.reason in WAITING_REASONS:
        return {"waiting": {"reason": container.reason,
                            "message": f"back-off restarting failed container {container.name}"}}
    if container.status is ContainerStatus.EXITED:
        return {"terminated": _terminated(container)}
    return {"waiting": {"reason": "ContainerCreating"}}


def _terminated(container: ContainerRecord) -> dict:
    return _run_ended(container.id, container.exit_code, container.reason, container.started_at,
                      container.finished_at)


def _last_terminated(container: ContainerRecord) -> dict:
    """The run before this one, as kept when the container started again."""
    return _run_ended(container.id, container.last_exit_code, container.last_reason, container.last_started_at,
                      container.last_finished_at)


def _run_ended(container_id: str, exit_code: int | None, reason: str, started_at: float | None,
               finished_at: float | None) -> dict:
    """A `terminated` state as Kubernetes gives it, for a run that ended."""
    from kubeplay.generate.live import rfc3339

    code = exit_code if exit_code is not None else 0
    if not reason or reason in WAITING_REASONS:
        reason = "Completed" if code == 0 else "Error"
    found = {"exitCode": code, "reason": reason, "startedAt": rfc3339(started_at),
             "finishedAt": rfc3339(finished_at), "containerID": f"kubeplay://{container_id}"}
    return {key: value for key, value in found.items() if value is not None}


def _not_made_yet(record, members: list[ContainerRecord]) -> list[dict]:
    """Members of the plan the store has no container for yet (the pod is still being made)."""
    made = {c.name for c in members}
    return [{"name": plan.name, "image": plan.image, "imageID": "", "ready": False, "started": False,
             "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
            for plan in record.plan.containers if plan.name not in made]


def qos_class(plan) -> str:
    """Guaranteed, Burstable or BestEffort, as the kubelet classes a pod by its resources."""
    containers = plan.all_containers
    resources = [c.resources for c in containers]
    if not any(r.cpu_limit_millis or r.memory_limit or r.cpu_request_millis or r.memory_request for r in resources):
        return "BestEffort"
    guaranteed = all(r.cpu_limit_millis and r.memory_limit
                     and (r.cpu_request_millis in (None, r.cpu_limit_millis))
                     and (r.memory_request in (None, r.memory_limit)) for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"

"""`kubeplay pods`: the listing behind the click command, apart from parsing its options."""

from __future__ import annotations

from kubeplay.cli.render import show_pod_summaries
from kubeplay.config import Settings


def _overviews(engine):
    """Pods without their plans decoded: all that the listing shows."""
    from kubeplay.pods.status import reconciled_overviews

    return reconciled_overviews(engine.store, engine.settings)


def member_containers(pod):
    from kubeplay.model.record import ContainerRole

    return [c for c in pod.containers if c.role is ContainerRole.MEMBER]


def _ready(pod) -> str:
    """Ready members (a container without a readiness probe is ready when it runs) of all members."""
    from kubeplay.controllers.readiness import ready_count

    ready, total = ready_count(pod)
    return f"{ready}/{max(total, pod.planned_members)}"  # members still being made count, not ready


def pod_summary(pod) -> dict:
    from kubeplay.pods.status import derive_phase, display_status

    return {
        "name": pod.shown_name,
        "namespace": pod.namespace,
        "id": pod.id,
        "ready": _ready(pod),
        "status": display_status(pod),
        "phase": derive_phase(pod).value,
        "restarts": sum(c.restart_count for c in member_containers(pod)),
        "ip": pod.ip,
        "created": pod.created_at,
    }


def list_pods(settings: Settings, fmt: str = "table", namespace: str | None = None) -> None:
    """NAME READY STATUS RESTARTS AGE, as kubectl shows them (or the same as JSON), of the pods of
    `namespace` (None: of every namespace, with a NAMESPACE column)."""
    from kubeplay.pods.engine import Engine

    engine = Engine(settings)
    overviews = [pod for pod in _overviews(engine) if namespace is None or pod.namespace == namespace]
    show_pod_summaries([pod_summary(pod) for pod in overviews], fmt, namespace_column=namespace is None)
    warn_unmonitored(settings, overviews)


def warn_unmonitored(settings: Settings, pods) -> None:
    """Say which pods' probes are not being run: their monitor died (it is started again by the
    next command on the pod: `pod inspect`, `logs`, `exec`, `wait`, `events`)."""
    from kubeplay.cli.render import echo
    from kubeplay.controllers.launch import monitor_state
    from kubeplay.names import pod_arguments

    for pod in pods:
        if monitor_state(settings, pod) == "not running":
            echo(f"warning: pod {pod.shown_name}: its probes are not being run (its monitor is not running); "
                 f"`kubeplay pod inspect {pod_arguments(pod.namespace, pod.shown_name)}` starts it again", err=True)

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
    from kubeplay.model.record import ContainerStatus

    members = member_containers(pod)
    running = sum(1 for c in members if c.status is ContainerStatus.RUNNING)
    return f"{running}/{len(members)}"


def pod_summary(pod) -> dict:
    from kubeplay.pods.status import derive_phase, display_status

    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "id": pod.id,
        "ready": _ready(pod),
        "status": display_status(pod),
        "phase": derive_phase(pod).value,
        "restarts": sum(c.restart_count for c in member_containers(pod)),
        "ip": pod.ip,
        "created": pod.created_at,
    }


def list_pods(settings: Settings, fmt: str = "table") -> None:
    """NAME READY STATUS RESTARTS AGE, as kubectl shows them (or the same as JSON)."""
    from kubeplay.pods.engine import Engine

    show_pod_summaries([pod_summary(pod) for pod in _overviews(Engine(settings))], fmt)

"""Readiness as Kubernetes reports it, read from the store: which containers are ready, and the
pod's conditions (Initialized, ContainersReady, Ready) with their last transition times.

A container is ready when it runs and, if its readiness is gated (a readiness or startup probe, or
a postStart hook), the probe monitor said so. Transition times are derived from the containers'
own times: when a container became ready (or not), started or finished. `pod` is a PodRecord or a
PodOverview throughout; nothing here decodes a plan.
"""

from __future__ import annotations

import time

from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus


def container_ready(container: ContainerRecord) -> bool:
    if container.status is not ContainerStatus.RUNNING:
        return False
    return container.ready if container.readiness_gated else True


def _members(pod) -> list[ContainerRecord]:
    return [c for c in pod.containers if c.role is ContainerRole.MEMBER]


def ready_count(pod) -> tuple[int, int]:
    """(ready members, members): the READY column of `kubeplay pods`."""
    members = _members(pod)
    return sum(1 for c in members if container_ready(c)), len(members)


def _changed_at(container: ContainerRecord) -> float | None:
    """When the container's readiness last changed."""
    if container.status is not ContainerStatus.RUNNING:
        return container.finished_at or container.started_at
    if container.readiness_gated:
        return max(filter(None, (container.ready_changed_at, container.started_at)), default=None)
    return container.started_at


def timestamp(seconds: float | None) -> str | None:
    """RFC 3339 in UTC, as Kubernetes writes times."""
    return None if seconds is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _condition(kind: str, status: bool, since: float | None) -> dict:
    return {"type": kind, "status": "True" if status else "False", "lastTransitionTime": timestamp(since)}


def pod_conditions(pod) -> list[dict]:
    """Initialized, ContainersReady and Ready, as `kubectl get pod -o yaml` shows them."""
    inits = [c for c in pod.containers if c.role is ContainerRole.INIT and
             not (c.plan is not None and c.plan.restart_policy == "Always")]
    initialized = all(c.status is ContainerStatus.EXITED and c.exit_code == 0 for c in inits)
    init_since = max((c.finished_at or 0 for c in inits), default=0) or pod.created_at
    members = _members(pod)
    ready = [c for c in members if container_ready(c)]
    all_ready = bool(members) and len(ready) == len(members)
    if all_ready:
        since = max((_changed_at(c) or 0 for c in members), default=0) or pod.created_at
    else:
        # the condition turned false when the first of the containers not ready now stopped being ready
        since = min((_changed_at(c) or pod.created_at for c in members if c not in ready), default=pod.created_at)
    return [_condition("Initialized", initialized, init_since if initialized else pod.created_at),
            _condition("ContainersReady", all_ready, since),
            _condition("Ready", all_ready, since)]


def is_ready(pod) -> bool:
    ready, total = ready_count(pod)
    return total > 0 and ready == total

"""stop, start, rm and down of whole pods, with the status checked before each verb."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from kubeplay.errors import ConflictError, KubeplayError
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.pods import containers, network
from kubeplay.pods.engine import Engine
from kubeplay.pods.lock import pod_lock, remove_lock
from kubeplay.pods.paths import PodPaths
from kubeplay.pods.podfiles import release_pod_files
from kubeplay.pods.status import reconcile_pod
from kubeplay.pods.volumes import release_volumes

log = logging.getLogger(__name__)


def _stop_signal(record: ContainerRecord) -> str:
    if record.role is ContainerRole.INFRA:
        return "SIGKILL"  # catatonit holds namespaces only; nothing to shut down gracefully
    return (record.plan.stop_signal if record.plan else "") or "SIGTERM"


def _stop_all(engine: Engine, pod: PodRecord, grace: int) -> None:
    """Members and sidecars at once (each gets the full grace period), the infra last."""
    others = [c for c in pod.containers if c.role is not ContainerRole.INFRA]
    if others:
        with ThreadPoolExecutor(max_workers=min(len(others), 8)) as pool:
            for future in [pool.submit(containers.stop, engine, c.id, grace, _stop_signal(c)) for c in others]:
                future.result()
    for infra in (c for c in pod.containers if c.role is ContainerRole.INFRA):
        containers.stop(engine, infra.id, 0, "SIGKILL")


def stop_pod(engine: Engine, name: str, grace: int | None = None) -> None:
    with pod_lock(engine.settings, name):
        pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
        engine.store.set_pod_state(name, phase=PodPhase.STOPPED)
        _stop_all(engine, pod, pod.plan.termination_grace_period_seconds if grace is None else grace)
        for container in pod.containers:
            if container.status is ContainerStatus.RUNNING:
                engine.store.set_container_state(container.id, status=ContainerStatus.EXITED, pid=None,
                                                 reason="Stopped")


def remove_pod(engine: Engine, name: str, *, force: bool = False, grace: int | None = None) -> None:
    """Remove a pod and everything of it; a half-made pod is removed as far as it exists."""
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
    running = [c.name for c in pod.containers if c.status is ContainerStatus.RUNNING and c.role is not ContainerRole.INFRA]
    if running and not force and pod.phase is not PodPhase.STOPPED:
        raise ConflictError(f'pod "{name}" is running ({", ".join(running)})',
                            hint=f"stop it first (`kubeplay pod stop {name}`) or use -f")
    with pod_lock(engine.settings, name):
        engine.store.set_pod_state(name, phase=PodPhase.STOPPED)
        _stop_all(engine, pod, pod.plan.termination_grace_period_seconds if grace is None else grace)
        problems: list[str] = []
        for container in reversed(pod.containers):
            _attempt(problems, containers.remove, engine, container.id)
        paths = PodPaths(engine.settings, pod.id)
        _attempt(problems, network.teardown, engine, pod.plan, pod.id)
        _attempt(problems, release_pod_files, paths)
        _attempt(problems, release_volumes, pod.plan, paths)
        _attempt(problems, _remove_cgroups, pod.id)
        engine.store.remove_pod(name)
    remove_lock(engine.settings, name)
    if problems:
        raise KubeplayError(f'pod "{name}" was removed, but some of it could not be cleaned: ' + "; ".join(problems),
                            hint="`kubeplay system check` may tell why; re-running the command is safe")


def _attempt(problems: list[str], step, *args) -> None:
    """Run one clean-up step; a failure is collected so the others still run."""
    try:
        step(*args)
    except KubeplayError as exc:
        problems.append(exc.message)
    except OSError as exc:
        problems.append(str(exc))


def _remove_cgroups(pod_id: str) -> None:
    from kubeplay.oci.cgroups import remove_pod_cgroups

    remove_pod_cgroups(pod_id)


def start_pod(engine: Engine, name: str) -> None:
    """Start a stopped pod again: a fresh sandbox from its stored plan (claims keep their data)."""
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
    if any(c.status is ContainerStatus.RUNNING for c in pod.containers if c.role is ContainerRole.MEMBER):
        raise ConflictError(f'pod "{name}" is already running', hint=f"`kubeplay pod stop {name}` first")
    remove_pod(engine, name, force=True, grace=0)
    from kubeplay.pods.play import play

    play(engine, [pod.plan])


def pods_for(engine: Engine, plans: list[PodPlan]) -> list[str]:
    """The stored pods that these plans made: by pod name, or by their owning workload."""
    names = {plan.name for plan in plans if plan.owner is None}
    owners = {(plan.owner.kind, plan.owner.name, plan.namespace) for plan in plans if plan.owner}
    found = []
    for record in engine.store.list_pods():
        owner = record.plan.owner
        if record.name in names or (owner and (owner.kind, owner.name, record.plan.namespace) in owners):
            found.append(record.name)
    return found

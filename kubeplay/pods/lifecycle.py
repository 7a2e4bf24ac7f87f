"""stop, start, rm and down of whole pods, with the status checked before each verb."""

from __future__ import annotations

import functools
import shutil

from kubeplay.errors import ConflictError, KubeplayError
from kubeplay.logs import get_logger
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.names import pod_arguments, split_pod_key
from kubeplay.pods import containers, network
from kubeplay.pods.engine import Engine
from kubeplay.pods.lock import job_lock, pod_lock, remove_lock
from kubeplay.pods.paths import PodPaths, notify_relays_dir
from kubeplay.pods.podfiles import release_pod_files
from kubeplay.pods.status import reconcile_pod
from kubeplay.pods.volumes import release_volumes

log = get_logger(__name__)
# pods dismantled at once by remove_pods_together: each step mostly waits on runc, umount and rmdir
REMOVE_WORKERS = 4


def _stop_signal(record: ContainerRecord) -> str:
    if record.role is ContainerRole.INFRA:
        return "SIGKILL"  # catatonit holds namespaces only; nothing to shut down gracefully
    return (record.plan.stop_signal if record.plan else "") or "SIGTERM"


def _member_stops(pod: PodRecord, grace: int) -> list[containers.StopRequest]:
    return [containers.StopRequest(c.id, c.pid, _stop_signal(c), grace)
            for c in pod.containers if c.role is not ContainerRole.INFRA]


def _infra_stops(pod: PodRecord) -> list[containers.StopRequest]:
    return [containers.StopRequest(c.id, c.pid, "SIGKILL", 0) for c in pod.containers if c.role is ContainerRole.INFRA]


def _stop_all(engine: Engine, pod: PodRecord, grace: int) -> None:
    """Members and sidecars at once (each gets the full grace period, less its preStop hook's
    time), the infra last."""
    from kubeplay.pods.termination import before_stop

    containers.stop_all(engine, _member_stops(pod, before_stop(engine, pod, grace)))
    containers.stop_all(engine, _infra_stops(pod))


def _grace(pod: PodRecord, grace: int | None) -> int:
    return pod.plan.termination_grace_period_seconds if grace is None else grace


def stop_pod(engine: Engine, name: str, grace: int | None = None) -> None:
    with pod_lock(engine.settings, name):
        pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
        engine.store.set_pod_state(name, phase=PodPhase.STOPPED)
        for container in pod.containers:  # a stopped pod restarts nothing
            containers.end_restart_waiter(containers.ContainerPaths(engine.settings, container.id), container.id)
        _stop_all(engine, pod, _grace(pod, grace))
        for container in pod.containers:
            if container.status is ContainerStatus.RUNNING:
                engine.store.set_container_state(container.id, status=ContainerStatus.EXITED, pid=None,
                                                 reason="Stopped")


def remove_pod(engine: Engine, name: str, *, force: bool = False, grace: int | None = None) -> None:
    """Remove a pod and everything of it; a half-made pod is removed as far as it exists."""
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
    running = [c.name for c in pod.containers if c.status is ContainerStatus.RUNNING and c.role is not ContainerRole.INFRA]
    if running and not force and pod.phase is not PodPhase.STOPPED:
        raise ConflictError(f'pod "{pod.shown_name}" is running ({", ".join(running)})',
                            hint=f"stop it first (`kubeplay pod stop {pod_arguments(pod.namespace, pod.shown_name)}`) "
                                 "or use -f")
    with pod_lock(engine.settings, name):
        engine.store.set_pod_state(name, phase=PodPhase.STOPPED)
        containers.mark_removing(engine, pod)
        _stop_all(engine, pod, _grace(pod, grace))
        problems = _dismantle(engine, pod, refresh_peers=True)
    _finish_removal(engine, name, problems)


def remove_pods_together(engine: Engine, names: list[str], grace: int | None = None) -> list[str]:
    """Remove running or stopped pods (as `rm -f`), all at once; returns the names removed.

    Every pod is marked Stopped and its members signalled first, so all grace periods run together;
    each pod's infra is killed and its parts removed once its own members are gone, a few pods at a
    time (each under its own lock); /etc/hosts of the pods that stay is rewritten once at the end.
    """
    pods = [pod for pod in (engine.store.find_pod(name) for name in names) if pod is not None]
    if not pods:
        return []
    from kubeplay.pods.termination import before_stop_all
    from kubeplay.threads import run_together

    engine.prepare_for_threads()
    marked = run_together([functools.partial(_mark_stopped, engine, pod.name) for pod in pods], REMOVE_WORKERS)
    pods = [pod for pod in marked if pod is not None]
    graces = before_stop_all(engine, pods, lambda pod: _grace(pod, grace))
    containers.stop_all(engine, [stop for pod in pods for stop in _member_stops(pod, graces[pod.name])])
    outcomes = run_together([functools.partial(_remove_stopped, engine, pod) for pod in pods], REMOVE_WORKERS)
    leaving = {pod.name for pod in pods}
    for network_name in {network.network_name(pod.plan) for pod in pods} - {"", "none"}:
        network.refresh_peer_hosts(engine, network_name, leaving=leaving)
    problems = [problem for outcome in outcomes for problem in outcome]
    if problems:
        raise KubeplayError("pods were removed, but some of their parts could not be cleaned: " + "; ".join(problems),
                            hint="`kubeplay system check` may tell why; re-running the command is safe")
    return [pod.name for pod in pods]


def _mark_stopped(engine: Engine, name: str) -> PodRecord | None:
    with pod_lock(engine.settings, name):  # no restart revives a container of a Stopped pod
        found = engine.store.find_pod(name)
        if found is None:
            return None  # removed meanwhile by another command
        pod = reconcile_pod(engine.store, engine.settings, found)
        engine.store.set_pod_state(name, phase=PodPhase.STOPPED)
        containers.mark_removing(engine, pod)
        return pod


def _remove_stopped(engine: Engine, pod: PodRecord) -> list[str]:
    with pod_lock(engine.settings, pod.name):
        containers.stop_all(engine, _infra_stops(pod))
        problems = _dismantle(engine, pod, refresh_peers=False)
    try:
        _finish_removal(engine, pod.name, [])
    except KubeplayError as exc:
        problems.append(exc.message)
    return [f'pod "{pod.shown_name}": {problem}' for problem in problems]


def _dismantle(engine: Engine, pod: PodRecord, *, refresh_peers: bool) -> list[str]:
    """Remove the stopped pod's containers, network, files and record; returns what failed."""
    problems: list[str] = []
    for container in reversed(pod.containers):
        _attempt(problems, containers.remove, engine, container.id)
    paths = PodPaths(engine.settings, pod.id)
    _attempt(problems, lambda: network.teardown(engine, pod.plan, pod.id, refresh_peers=refresh_peers))
    _attempt(problems, release_pod_files, paths)
    if engine.handoff is None or not engine.handoff.relays_pod(pod.name):  # not a --replace under --service
        _attempt(problems, shutil.rmtree, notify_relays_dir(engine.settings, pod.name), True)
    _attempt(problems, release_volumes, pod.plan, paths)
    _attempt(problems, _remove_cgroups, pod.id)
    engine.store.remove_pod(pod.name)
    return problems


def _finish_removal(engine: Engine, name: str, problems: list[str]) -> None:
    remove_lock(engine.settings, name)
    if problems:
        raise KubeplayError(f'pod "{split_pod_key(name)[1]}" was removed, but some of it could not be cleaned: ' + "; ".join(problems),
                            hint="`kubeplay system check` may tell why; re-running the command is safe")


def _attempt(problems: list[str], step, *args) -> None:
    """Run one clean-up step; a failure is collected so the others still run."""
    from kubeplay.cleanup import describe

    try:
        step(*args)
    except Exception as exc:  # noqa: BLE001 - reported with the others once every step has run
        problems.append(describe(exc))


def _remove_cgroups(pod_id: str) -> None:
    from kubeplay.oci.cgroups import remove_pod_cgroups

    remove_pod_cgroups(pod_id)


def start_pod(engine: Engine, name: str) -> None:
    """Start a stopped pod again: a fresh sandbox from its stored plan (claims keep their data)."""
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
    if any(c.status is ContainerStatus.RUNNING for c in pod.containers if c.role is ContainerRole.MEMBER):
        raise ConflictError(f'pod "{pod.shown_name}" is already running',
                            hint=f"`kubeplay pod stop {pod_arguments(pod.namespace, pod.shown_name)}` first")
    remove_pod(engine, name, force=True, grace=0)
    from kubeplay.pods.play import play

    play(engine, [pod.plan])


def pods_for(engine: Engine, plans: list[PodPlan], workloads: list[tuple[str, str, str]] = ()) -> list[str]:
    """The stored pods (keys) that these plans made: by pod key, or by their owning workload; also the
    pods of `workloads` (kind, name, namespace) that make none now (scaled to replicas: 0)."""
    owners = {(plan.owner.kind, plan.owner.name, plan.namespace) for plan in plans if plan.owner}
    return pods_named(engine, {plan.key for plan in plans if plan.owner is None}, owners | set(workloads))


def pods_named(engine: Engine, keys: set[str] | frozenset[str],
               owners: set[tuple[str, str, str]] | frozenset[tuple[str, str, str]]) -> list[str]:
    """The stored pods (keys) of these keys, or owned by these (kind, name, namespace) workloads:
    what was stored decides, not what the manifests now say. A key holds the pod's namespace, so a
    pod of the same name in another namespace belongs to other manifests and stays."""
    found = []
    for record in engine.store.list_pods():
        owner = record.plan.owner
        if record.name in keys or (owner and (owner.kind, owner.name, record.plan.namespace) in owners):
            found.append(record.name)
    return found


def owned_pods(engine: Engine, kind: str, namespace: str, name: str) -> list[PodRecord]:
    """The pods whose plan names this owner (a Job, a Deployment), their states brought up to date."""
    found = []
    for record in engine.store.list_pods():
        owner = record.plan.owner
        if owner and owner.kind == kind and owner.name == name and record.plan.namespace == namespace:
            found.append(reconcile_pod(engine.store, engine.settings, record))
    return found


def remove_pods(engine: Engine, names: list[str]) -> list[str]:
    """Remove pods, holding each job's lock so no exit callback starts a replacement meanwhile.

    The pods of no job go together (their grace periods overlap, a few are dismantled at once); so do
    the pods of each job, under that job's lock."""
    removed = []
    by_job: dict[tuple[str, str], list[str]] = {}
    for name in names:
        record = engine.store.find_pod(name)
        if record is None:
            continue
        owner = record.plan.owner
        key = (record.plan.namespace, owner.name) if owner and owner.kind == "Job" else ("", "")
        by_job.setdefault(key, []).append(name)
    for (namespace, job), members in by_job.items():
        if not job:
            removed += remove_pods_together(engine, members)
            continue
        with job_lock(engine.settings, namespace, job):
            # a replacement may have started since the caller listed the pods: take them all
            current = [p.name for p in owned_pods(engine, "Job", namespace, job)]
            removed += remove_pods_together(engine, list(dict.fromkeys(members + current)))
    return removed

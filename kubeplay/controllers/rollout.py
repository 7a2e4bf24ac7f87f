"""Bringing a Deployment's pods to its stored plan: scaling, and rolling updates, with no daemon.

The stored DeploymentRecord is the goal; the pods are what is. `converge` compares the two and acts
in the foreground of the command that called it (apply, scale, rollout undo/restart/status), step
by step, as Kubernetes' Deployment controller would:

- pods of the current template (pod-template-hash) are "new", others "old";
- RollingUpdate: at most replicas + maxSurge pods exist, at least replicas - maxUnavailable are
  Ready; an old pod goes only when enough others are Ready, a new one comes when there is room,
  and between steps the command waits for the new pods to become Ready;
- Recreate: every old pod goes first, then the new ones are made.

A pod that goes leaves the Services' endpoints before it is stopped, and a new pod joins them once
Ready (the probe monitor rewrites them when it turns Ready). A new pod that does not become Ready
within progressDeadlineSeconds stops the roll: old pods that are left keep serving, the condition
is stored and `RolloutFailed` names the container and why.

Since every step reads the pods anew, a roll cut short (the command killed) is continued by the
next command that converges the Deployment: `apply`, `scale` or `rollout status`.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kubeplay.errors import ConflictError, UserError
from kubeplay.logs import get_logger
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import PodPhase, PodRecord
from kubeplay.model.workload import DeploymentPlan, DeploymentRecord, surge_and_unavailable
from kubeplay.names import split_pod_key
from kubeplay.pods.engine import Engine

log = get_logger(__name__)
Say = Callable[[str], None]
LOCK_TIMEOUT = 600.0  # a roll in another command may take this long before this one gives up
MAX_STEPS = 10_000  # bound on the roll's loop: every step makes or removes a pod or waits


class RolloutFailed(UserError):
    """A roll that stopped: a new pod never became Ready within progressDeadlineSeconds."""


@contextmanager
def deployment_lock(engine: Engine, namespace: str, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """One command changes a Deployment's pods at a time."""
    from kubeplay.filelock import locked
    from kubeplay.pods.lock import lock_path

    def busy() -> ConflictError:
        return ConflictError(f'deployment "{name}" is busy: another command is rolling it',
                             hint=f"wait for it, or see `kubeplay rollout status deploy/{name}`")

    with locked(lock_path(engine.settings, f"deployment.{namespace}.{name}"), timeout, busy):
        yield


def pod_hash(pod: PodRecord | PodPlan) -> str:
    plan = pod.plan if isinstance(pod, PodRecord) else pod
    return plan.labels.get("pod-template-hash", "")


def deployment_pods(engine: Engine, namespace: str, name: str) -> list[PodRecord]:
    """The Deployment's pods, reconciled with what runs, oldest first."""
    from kubeplay.pods.status import reconcile_pod

    return [reconcile_pod(engine.store, engine.settings, record) for record in engine.store.list_pods()
            if record.plan.owner is not None and record.plan.owner.kind == "Deployment"
            and record.plan.owner.name == name and record.plan.namespace == namespace]


def making_cut_short(engine: Engine, pod: PodRecord) -> bool:
    """A pod still Pending that no command is making any more: the one that made it was killed
    before it could finish or undo it (SIGKILL), and no init container retry waits for it. Making
    a pod holds its lock throughout, so a free lock on a Pending pod means no one is at it."""
    from kubeplay.pods.initretry import STATE_FILE
    from kubeplay.pods.lock import pod_lock
    from kubeplay.pods.paths import PodPaths

    if pod.phase is not PodPhase.PENDING or (PodPaths(engine.settings, pod.id).run_dir / STATE_FILE).exists():
        return False
    try:
        with pod_lock(engine.settings, pod.name, timeout=0):
            current = engine.store.find_pod(pod.name)  # its maker may have finished since it was read
    except ConflictError:
        return False
    return current is not None and current.id == pod.id and current.phase is PodPhase.PENDING


def is_available(pod: PodRecord) -> bool:
    """Ready, and not being removed: what counts towards minimum availability."""
    from kubeplay.controllers.readiness import is_ready

    return pod.phase is PodPhase.RUNNING and is_ready(pod)


def replica_plans(plan: DeploymentPlan, count: int, taken: set[str]) -> list[PodPlan]:
    """`count` new pods of the template, named `<deployment>-<template-hash>-<suffix>`."""
    import random

    from kubeplay.controllers.jobs import renamed_plan
    from kubeplay.translate.workloads import generated_name

    rng = random.SystemRandom()
    template = plan.template
    if template.owner is not None:
        template = dataclasses.replace(template, owner=dataclasses.replace(template.owner, replicas=plan.replicas))
    made = []
    for _ in range(count):
        for _attempt in range(100):
            name = generated_name(f"{plan.name}-{plan.template_hash}", rng)
            if name not in taken:
                break
        else:
            raise ConflictError(f'no free pod name for deployment "{plan.name}"', hint="remove some of its pods")
        taken.add(name)
        made.append(renamed_plan(template, name, str(uuid.uuid4())))
    return made


def create_pods(engine: Engine, plans: list[PodPlan], say: Say) -> list[str]:
    """Make pods as play makes them; their probes' monitors started, the Services told."""
    if not plans:
        return []
    from kubeplay.controllers.endpoints import pods_changed
    from kubeplay.controllers.launch import start_monitors
    from kubeplay.pods.play import play

    names = play(engine, plans)
    start_monitors(engine, names)
    pods_changed(engine, plans)
    for name in names:
        say(f"pod/{split_pod_key(name)[1]} created")
    return names


def take_out_of_service(engine: Engine, pods: list[PodRecord]) -> None:
    """Mark pods Stopped (no restart revives them) and rewrite their Services without them, before
    anything of them is stopped: no connection is sent to a pod that is going."""
    from kubeplay.controllers.endpoints import pods_changed
    from kubeplay.pods.lock import pod_lock

    for pod in pods:
        with pod_lock(engine.settings, pod.name):
            if engine.store.find_pod(pod.name) is not None:
                engine.store.set_pod_state(pod.name, phase=PodPhase.STOPPED)
    pods_changed(engine, [pod.plan for pod in pods])


def remove_pods(engine: Engine, pods: list[PodRecord], say: Say) -> list[str]:
    """Take pods out of their Services first, then stop and remove them (all grace periods together)."""
    if not pods:
        return []
    from kubeplay.pods.lifecycle import remove_pods_together

    take_out_of_service(engine, pods)
    removed = remove_pods_together(engine, [pod.name for pod in pods])
    for name in removed:
        say(f"pod/{split_pod_key(name)[1]} deleted")
    return removed


def _going_first(pods: list[PodRecord]) -> list[PodRecord]:
    """The order pods are removed in when there are too many: not Ready first, then the newest
    (as the ReplicaSet controller ranks them)."""
    return sorted(pods, key=lambda pod: (is_available(pod), -pod.created_at))


def converge(engine: Engine, record: DeploymentRecord, say: Say, progress: Say | None = None) -> bool:
    """Make the Deployment's pods what `record` says; True when anything was made or removed."""
    with deployment_lock(engine, record.namespace, record.name):
        return Roll(engine, record, say, progress or (lambda message: None)).run()


@dataclasses.dataclass
class Roll:
    engine: Engine
    record: DeploymentRecord
    say: Say
    progress: Say
    acted: bool = False
    # pods of a rolling update that are out of service and ending in the background: as on Kubernetes,
    # a terminating pod counts no more, and the roll goes on during its grace period
    leaving: set[str] = dataclasses.field(default_factory=set)
    endings: list = dataclasses.field(default_factory=list)

    @property
    def plan(self) -> DeploymentPlan:
        return self.record.plan

    def pods(self) -> tuple[list[PodRecord], list[PodRecord]]:
        pods = [pod for pod in deployment_pods(self.engine, self.plan.namespace, self.plan.name)
                if pod.name not in self.leaving]
        # a pod whose making was cut short (its command killed) would never become Ready: it goes,
        # and its place is made again, as a ReplicaSet replaces a pod that failed
        broken = [pod for pod in pods if making_cut_short(self.engine, pod)]
        if broken:
            for pod in broken:
                log.info("pod %s: its making was cut short; it is removed and made again", pod.name)
            self._remove(broken)
            pods = [pod for pod in pods if pod not in broken]
        new = [pod for pod in pods if pod_hash(pod) == self.plan.template_hash]
        old = [pod for pod in pods if pod_hash(pod) != self.plan.template_hash]
        return new, old

    def run(self) -> bool:
        try:
            return self._run()
        finally:
            self._settle()

    def _settle(self) -> None:
        """Wait for the pods ending in the background; the first failure is raised."""
        errors = []
        for ending in self.endings:
            try:
                for name in ending.wait():
                    self.progress(f"pod/{split_pod_key(name)[1]} deleted")
            except Exception as exc:  # noqa: BLE001 - every ending is waited for before one is raised
                errors.append(exc)
        self.endings.clear()
        if errors:
            raise errors[0]

    def _end_in_background(self, pods: list[PodRecord]) -> None:
        import functools

        from kubeplay.threads import InBackground
        from kubeplay.pods.lifecycle import remove_pods_together

        take_out_of_service(self.engine, pods)
        self.leaving |= {pod.name for pod in pods}
        self.engine.prepare_for_threads()
        self.endings.append(InBackground(functools.partial(remove_pods_together, self.engine,
                                                           [pod.name for pod in pods]), name="kubeplay-roll-end"))
        self.acted = True

    def _run(self) -> bool:
        new, old = self.pods()
        if old and self.plan.replicas > 0:
            from kubeplay.pods.images import ensure_images

            ensure_images(self.engine, self.plan.template)  # a bad image stops the roll before a pod goes
        if old and self.plan.strategy == "Recreate":
            self._remove(old)
            old = []
        if not old:
            self._scale(new)
            return self.acted
        self._rolling()
        return self.acted

    def _remove(self, pods: list[PodRecord]) -> None:
        if pods:
            remove_pods(self.engine, pods, self.progress)
            self.acted = True

    def _create(self, count: int) -> list[str]:
        if count <= 0:
            return []
        taken = self.engine.store.names_in(self.plan.namespace)
        names = create_pods(self.engine, replica_plans(self.plan, count, taken), self.progress)
        self.acted = True
        return names

    def _scale(self, new: list[PodRecord]) -> None:
        """Replicas alone: pods are added or removed, those that stay are not touched."""
        wanted = self.plan.replicas
        if len(new) > wanted:
            self._remove(_going_first(new)[:len(new) - wanted])
        else:
            self._create(wanted - len(new))

    def _rolling(self) -> None:
        surge, unavailable = surge_and_unavailable(self.plan)
        replicas = self.plan.replicas
        deadline = time.monotonic() + self.plan.progress_deadline_seconds
        for _ in range(MAX_STEPS):
            new, old = self.pods()
            if not old:
                self._scale(new)
                return
            if len(new) > replicas:  # scaled down during a roll: the newest extra ones go
                self._remove(_going_first(new)[:len(new) - replicas])
                continue
            available = [pod for pod in new + old if is_available(pod)]
            # old pods that are not Ready serve nothing: they may always go; Ready ones while enough stay
            spare = len(available) - (replicas - unavailable)
            going = [pod for pod in old if not is_available(pod)]
            going += [pod for pod in old if is_available(pod)][:max(0, spare)]
            if going:
                self._end_in_background(going)
                continue
            room = min(replicas - len(new), replicas + surge - len(new) - len(old))
            if room > 0:
                self._create(room)
                deadline = time.monotonic() + self.plan.progress_deadline_seconds
                continue
            waiting = [pod.name for pod in new if not is_available(pod)]
            if not waiting:
                raise RolloutFailed(f'deployment "{self.plan.name}" cannot roll: no room for a new pod',
                                    hint="raise maxSurge or maxUnavailable")
            self._wait(waiting, deadline)
            deadline = time.monotonic() + self.plan.progress_deadline_seconds

    def _wait(self, names: list[str], deadline: float) -> None:
        from kubeplay.controllers.wait import WaitFailed, wait_for

        self.progress(f"waiting for {', '.join(names)} to be ready")
        try:
            wait_for(self.engine, names, "ready", max(deadline - time.monotonic(), 0.0))
        except WaitFailed as exc:
            from kubeplay.store.deployments import DeploymentStore

            why = exc.message.split("\n", 1)[-1].strip()
            condition = f"ProgressDeadlineExceeded: {why}"
            DeploymentStore(self.engine.db).set_condition(self.plan.namespace, self.plan.name, condition)
            raise RolloutFailed(
                f'deployment "{self.plan.name}" exceeded its progress deadline '
                f"({self.plan.progress_deadline_seconds}s); the roll stopped and the old pods keep serving: {why}",
                hint=f"fix the template and apply again, or `kubeplay rollout undo deployment/{self.plan.name}`",
            ) from exc


def status_lines(engine: Engine, record: DeploymentRecord) -> tuple[bool, str]:
    """(done, what `rollout status` says), from the pods as they are."""
    plan = record.plan
    pods = deployment_pods(engine, plan.namespace, plan.name)
    new = [pod for pod in pods if pod_hash(pod) == plan.template_hash]
    old = [pod for pod in pods if pod_hash(pod) != plan.template_hash]
    available = [pod for pod in new if is_available(pod)]
    if record.condition:
        return False, f'deployment "{plan.name}" rollout failed: {record.condition}'
    if old:
        return False, (f'Waiting for deployment "{plan.name}" rollout to finish: {len(old)} old replicas '
                       "are pending termination...")
    if len(new) < plan.replicas:
        return False, (f'Waiting for deployment "{plan.name}" rollout to finish: {len(new)} of {plan.replicas} '
                       "updated replicas are available...")
    if len(available) < plan.replicas:
        return False, (f'Waiting for deployment "{plan.name}" rollout to finish: {len(available)} of '
                       f"{plan.replicas} updated replicas are available...")
    return True, f'deployment "{plan.name}" successfully rolled out'

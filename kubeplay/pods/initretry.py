"""Init containers that fail under restartPolicy Always or OnFailure: retried with back-off, as the
kubelet retries them, by a detached process, while `play` returns at once with the pod shown as
Init:CrashLoopBackOff (it used to block, silently, through minutes of back-off).

At the first failure `play` records what the pod's later containers need (their namespaces, the
pod's address, its volumes' host paths, the images) in the pod's run directory and hands the
container to `kubeplay container-restart`, the same detached waiter a crashed member gets. That
process waits out the back-off, runs the init container again and waits for its end (its pid file
lets `down` end it at any time); on success it runs the remaining init containers and starts the
members, under the pod's lock as play would; on another failure it hands over to the next waiter.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from pathlib import Path

from kubeplay.logs import get_logger
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import ContainerStatus, PodPhase
from kubeplay.names import pod_arguments
from kubeplay.pods.backoff import backoff_delay, spawn_restart, still_wanted
from kubeplay.pods.create import InitContainerExited, MemberFactory, run_init_containers, start_members
from kubeplay.pods.engine import Engine
from kubeplay.pods.paths import ContainerPaths, PodPaths

log = get_logger(__name__)
STATE_FILE = "init-retry.json"
WAIT_LOOK = 1.0  # seconds between looks at whether the pod is still wanted, while an init container runs


def back_off(exited: InitContainerExited) -> str:
    """Record the failure, the back-off and what the members need; hand the container over to a
    detached waiter. Returns what to tell the user."""
    factory, container_id, position, code = exited.factory, exited.container_id, exited.position, exited.code
    engine, pod = factory.engine, factory.pod
    _write_state(factory)
    step = engine.store.backoff_step(container_id) + 1
    engine.store.set_container_state(container_id, backoff_step=step, restart_at=time.time() + backoff_delay(step),
                                     reason="CrashLoopBackOff")
    spawn_restart(engine, container_id)
    name = pod.init_containers[position].name
    return (f'pod "{pod.name}": Init:CrashLoopBackOff: init container "{name}" exited with code '
            f"{code}; it is retried with back-off (`kubeplay logs {pod_arguments(pod.namespace, pod.name)} -c {name}` "
            "shows why)")


def _write_state(factory: MemberFactory) -> None:
    state = {"ip": factory.ip, "namespaces": factory.ns_paths,
             "sources": {name: str(path) for name, path in factory.sources.items()},
             "images": {name: image.id for name, image in factory.images.items()}}
    path = PodPaths(factory.engine.settings, factory.pod_id).run_dir / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


def _factory(engine: Engine, pod: PodPlan, pod_id: str) -> MemberFactory:
    from kubeplay.images.lookup import resolve_local_image

    paths = PodPaths(engine.settings, pod_id)
    state = json.loads((paths.run_dir / STATE_FILE).read_text())
    images = {name: resolve_local_image(engine.settings, image_id) for name, image_id in state["images"].items()}
    return MemberFactory(engine, pod, pod_id, paths, state["ip"], state["namespaces"], images,
                         {name: Path(path) for name, path in state["sources"].items()})


def after_relaunch(engine: Engine, container_id: str) -> None:
    """The init container runs again: wait for its end, then go on with the pod or back off again."""
    code = _wait_end(engine, container_id)
    if code is None:
        return  # the pod was stopped or removed meanwhile
    from kubeplay.pods.lock import pod_lock

    record = engine.store.get_container(container_id)
    if record is None:
        return
    with pod_lock(engine.settings, record.pod):
        pod = engine.store.find_pod(record.pod)
        if pod is None or pod.phase in (PodPhase.STOPPED, PodPhase.FAILED):
            return
        engine.store.set_container_state(container_id, status=ContainerStatus.EXITED, exit_code=code, pid=None,
                                         finished_at=time.time(), reason="Completed" if code == 0 else "Error")
        factory = _factory(engine, pod.plan, pod.id)
        position = record_position(pod.plan, record.name)
        try:
            if code != 0:
                raise InitContainerExited(factory, container_id, position, code)
            _finish_pod(factory, position + 1)
        except InitContainerExited as exited:
            log.info("%s", back_off(exited))
            return
        except Exception as exc:  # noqa: BLE001 - no one to tell but the pod's status
            from kubeplay.cleanup import describe

            engine.store.set_pod_state(pod.name, phase=PodPhase.FAILED, reason=describe(exc)[:500])
            return
        engine.store.set_pod_state(pod.name, phase=PodPhase.RUNNING, reason="")


def record_position(plan: PodPlan, name: str) -> int:
    return next(index for index, container in enumerate(plan.init_containers) if container.name == name)


def _finish_pod(factory: MemberFactory, first: int) -> None:
    """The init containers from `first` on, then the members, as play would have made them."""

    undo = ExitStack()  # kept: what is made stays, and a later `down` removes it with the pod
    run_init_containers(factory, undo, first=first)
    start_members(factory, undo)
    undo.pop_all()


def _wait_end(engine: Engine, container_id: str) -> int | None:
    """The exit code of the running init container; None once the pod is no longer wanted. This
    process's pid file stays meanwhile, so `down` can end the wait at once."""
    from kubeplay.pods.status import read_exit_file

    paths = ContainerPaths(engine.settings, container_id)
    try:
        paths.restart_pidfile.write_text(str(os.getpid()))
    except OSError:
        return None
    try:
        looked = 0.0
        pause = 0.01
        while True:
            code = read_exit_file(engine.settings, container_id)
            if code is not None:
                return code
            now = time.monotonic()
            if now - looked >= WAIT_LOOK:
                looked = now
                if not still_wanted(engine, container_id):
                    return None
            time.sleep(pause)
            pause = min(pause * 1.5, 0.2)
    finally:
        paths.restart_pidfile.unlink(missing_ok=True)

"""What happens when a container exits: record it, and restart it as restartPolicy says.

conmon calls `kubeplay container-exited ID` when a container ends. That call records the exit code
and, when a restart is due, hands it to a detached `kubeplay container-restart ID` that waits out the
Kubernetes back-off (0 s for the first restart, then 10 s doubling to 5 min; reset after 10 min of
running) and starts the container again. Nothing else stays alive: no daemon.
"""

from __future__ import annotations

import os
import time

from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.pods.backoff import BACKOFF_CAP, BACKOFF_RESET_AFTER, backoff_delay, spawn_restart, still_wanted
from kubeplay.pods.engine import Engine
from kubeplay.pods.status import read_exit_file


def should_restart(policy: str, exit_code: int | None) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _policy(pod: PodRecord, record: ContainerRecord) -> str | None:
    if record.role is ContainerRole.MEMBER:
        return pod.plan.restart_policy
    if record.role is ContainerRole.INIT and record.plan and record.plan.restart_policy == "Always":
        return "Always"  # a native sidecar
    return None  # the infra, and init containers, which play drives itself


def container_exited(engine: Engine, container_id: str) -> None:
    record = engine.store.get_container(container_id, with_plan=False)
    if record is None:
        return  # removed meanwhile (down)
    code = read_exit_file(engine.settings, container_id)
    now = time.time()
    engine.store.set_container_state(container_id, status=ContainerStatus.EXITED, exit_code=code, pid=None,
                                     finished_at=now, reason="Completed" if code == 0 else "Error")
    # the phase first: a pod being taken down needs nothing more, and its plans are not decoded
    if engine.store.pod_phase(record.pod) in (None, PodPhase.STOPPED, PodPhase.FAILED):
        return
    pod = engine.store.find_pod(record.pod)
    record = engine.store.get_container(container_id)
    if pod is None or record is None or pod.phase in (PodPhase.STOPPED, PodPhase.FAILED):
        return
    if record.role is ContainerRole.MEMBER and pod.plan.owner and pod.plan.owner.kind == "Job":
        from kubeplay.controllers.jobs import job_container_exited

        if not job_container_exited(engine, pod.name):
            return  # the job is over: failed past its limits, or this pod was removed
    policy = _policy(pod, record)
    if policy is None or not should_restart(policy, code):
        return
    ran = now - (record.started_at or now)
    step = 0 if ran >= BACKOFF_RESET_AFTER else engine.store.backoff_step(container_id)
    delay = backoff_delay(step)
    engine.store.set_container_state(container_id, backoff_step=step + 1, restart_at=now + delay,
                                     reason="CrashLoopBackOff" if delay else "Restarting")
    if delay:
        from kubeplay.store.events import EventStore

        EventStore(engine.db).add(pod.name, record.name, "Warning", "BackOff",
                                  f"Back-off {delay:g}s restarting failed container {record.name} in pod {pod.shown_name}")
    spawn_restart(engine, container_id)


def restart_container(engine: Engine, container_id: str) -> None:
    """Wait until the back-off allows it, then start the container again if it is still wanted."""
    from kubeplay.pods import containers
    from kubeplay.pods.lock import pod_lock
    from kubeplay.pods.paths import ContainerPaths

    wait = (engine.store.restart_at(container_id) or 0) - time.time()
    if wait > 0:
        pidfile = ContainerPaths(engine.settings, container_id).restart_pidfile
        try:
            pidfile.write_text(str(os.getpid()))  # so that removing the container ends this wait
        except OSError:
            return  # the container's directory is gone: removed meanwhile
        try:
            if not still_wanted(engine, container_id):
                return  # stopped before the pid file was there for `down` or `pod stop` to find
            time.sleep(min(wait, BACKOFF_CAP))
        finally:
            pidfile.unlink(missing_ok=True)
    containers.wait_conmon_gone(engine, container_id, 10)
    record = engine.store.get_container(container_id)
    if record is None or record.plan is None:
        return
    from kubeplay.pods.logfiles import discard_rotations

    with pod_lock(engine.settings, record.pod):
        pod = engine.store.find_pod(record.pod)
        record = engine.store.get_container(container_id)
        if pod is None or record is None or pod.phase in (PodPhase.STOPPED, PodPhase.FAILED):
            return
        if record.status is not ContainerStatus.EXITED:
            return
        engine.runtime.delete(container_id, force=True)
        image = _image_layers(engine, container_id)
        containers.reset_writable_layer(engine, container_id, image)
        paths = ContainerPaths(engine.settings, container_id)
        if paths.log.exists():
            os.replace(paths.log, paths.previous_log)
        discard_rotations(paths.log)  # the numbered files were the run that ended
        engine.store.set_container_state(container_id, restart_count=record.restart_count + 1)
        run_to_end = record.role is ContainerRole.INIT and record.plan.restart_policy != "Always"
        containers.launch(engine, container_id, record.name, tty=record.plan.tty, stdin=record.plan.stdin,
                          exit_callback=not run_to_end)  # an init container's end is waited for below
    if run_to_end:
        from kubeplay.pods.initretry import after_relaunch

        after_relaunch(engine, container_id)  # then the rest of the pod, or the next back-off


def _image_layers(engine: Engine, container_id: str) -> tuple[str, ...]:
    from kubeplay.images.lookup import resolve_local_image

    return resolve_local_image(engine.settings, engine.store.image_id(container_id) or "").diff_ids

"""Reading status truthfully: reconcile stored state with what really runs, and derive pod phase.

After a reboot the run root is empty: its session marker is gone, so every container recorded as
running under another session reads as exited — a stale PID is never trusted.

Phases are derived from a PodRecord or a PodOverview alike (both carry restart_policy and the
containers' states); `kubeplay pods` uses overviews so that listing decodes no plan.
"""

from __future__ import annotations

import os
import threading
import time

from kubeplay.config import Settings
from kubeplay.model.record import (
    ContainerRecord,
    ContainerRole,
    ContainerStatus,
    PodOverview,
    PodPhase,
    PodRecord,
)

# why a container or a pod that ran in an earlier session of the run root no longer runs
REBOOTED = "host rebooted or run root removed"


def session_id(settings: Settings) -> str:
    marker = settings.runroot / "session"
    try:
        return marker.read_text().strip()
    except FileNotFoundError:
        import secrets

        settings.runroot.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(16)
        tmp = marker.with_suffix(f".{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(value)
        try:
            os.link(tmp, marker)  # first writer wins; later ones read its value
        except FileExistsError:
            pass
        tmp.unlink()
        return marker.read_text().strip()


def read_exit_file(settings: Settings, container_id: str) -> int | None:
    from kubeplay.pods.paths import ContainerPaths

    try:
        return int(ContainerPaths(settings, container_id).exit_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _conmon_alive(settings: Settings, container_id: str) -> bool:
    from kubeplay.pods.paths import ContainerPaths
    from kubeplay.runtime.conmon import conmon_pid

    return conmon_pid(ContainerPaths(settings, container_id).conmon_pidfile) is not None


def reconcile_container(store, settings: Settings, record: ContainerRecord,
                        session: str | None = None) -> ContainerRecord:
    """Correct a record that says running when it no longer is; returns the truthful record.
    `session` is this run root's session_id, when the caller has read it already."""
    if record.status is not ContainerStatus.RUNNING:
        return record
    current = session if session is not None else session_id(settings)
    # records read from the store carry boot_id; one built elsewhere may not
    stale = (record.boot_id or store.boot_id(record.id)) != current
    code = None if stale else read_exit_file(settings, record.id)
    if not stale and code is None and (_alive(record.pid) or _conmon_alive(settings, record.id)):
        # an init that has just ended, whose exit conmon has not written yet, is not taken for one
        # that ended without a code: a Job counting it as failed started a pod too many
        return record
    reason = REBOOTED if stale else ("Completed" if code == 0 else "Error")
    store.set_container_state(record.id, status=ContainerStatus.EXITED, exit_code=code,
                              finished_at=time.time(), pid=None, reason=reason)
    return store.get_container(record.id) or record


def _reconcile_containers(store, settings: Settings, containers: tuple[ContainerRecord, ...],
                          session: str | None = None) -> bool:
    """Reconcile every running container; True when a record was corrected."""
    running = [c for c in containers if c.status is ContainerStatus.RUNNING]
    if not running:
        return False
    session = session if session is not None else session_id(settings)
    # a list, not a generator: every running container is reconciled, not just up to the first change
    return any([reconcile_container(store, settings, c, session) is not c for c in running])


def reconcile_pod(store, settings: Settings, pod: PodRecord) -> PodRecord:
    session = session_id(settings)
    if _reconcile_containers(store, settings, pod.containers, session):
        pod = store.get_pod(pod.name)
    if _left_by_reboot(pod, session) and store.stop_if_unchanged(pod.name, pod.id, pod.phase, REBOOTED):
        pod = store.get_pod(pod.name)
    return pod


def reconciled_overviews(store, settings: Settings) -> list[PodOverview]:
    """Every pod's overview (store.pod_overviews), after reconciling the running containers."""
    overviews = store.pod_overviews()
    if not overviews:
        return overviews
    session = session_id(settings)  # one read of the marker for all pods
    changed = [_reconcile_containers(store, settings, pod.containers, session) for pod in overviews]
    if any(changed):
        overviews = store.pod_overviews()
    stopped = [store.stop_if_unchanged(pod.key, pod.id, pod.phase, REBOOTED)
               for pod in overviews if _left_by_reboot(pod, session)]
    return store.pod_overviews() if any(stopped) else overviews


def _left_by_reboot(pod: PodRecord | PodOverview, session: str) -> bool:
    """A pod that claims to be running or starting, though every container of it ran in an earlier
    session of the run root and none runs now: after a reboot (an empty run root) no exit callback,
    restart or play is left to move it on, so it is Stopped (`pod start` starts it again)."""
    if pod.phase is PodPhase.STOPPED:
        return False
    started = [c for c in pod.containers if c.boot_id]
    if not started or any(c.boot_id == session for c in started):
        return False  # not started yet (a play under way), or something ran in this session
    if any(c.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) for c in pod.containers):
        return False
    return derive_phase(pod) in (PodPhase.RUNNING, PodPhase.PENDING)


def derive_phase(pod: PodRecord | PodOverview) -> PodPhase:
    if pod.phase is PodPhase.STOPPED:
        return PodPhase.STOPPED
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER]
    inits = [c for c in pod.containers if c.role is ContainerRole.INIT]
    if pod.phase is PodPhase.FAILED and any(c.status is ContainerStatus.EXITED and c.exit_code for c in inits):
        return PodPhase.FAILED
    if any(c.status is ContainerStatus.RUNNING for c in members):
        return PodPhase.RUNNING
    if members and all(c.status is ContainerStatus.EXITED for c in members):
        if pod.restart_policy == "Always":
            return PodPhase.RUNNING  # between restarts
        if all(c.exit_code == 0 for c in members):
            return PodPhase.SUCCEEDED
        if pod.restart_policy == "Never" or any(c.reason == REBOOTED for c in members):
            return PodPhase.FAILED
        return PodPhase.RUNNING
    return PodPhase.PENDING


def display_status(pod: PodRecord | PodOverview) -> str:
    """The STATUS column of `kubeplay pods`, as kubectl shows it."""
    phase = derive_phase(pod)
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER]
    inits = [c for c in pod.containers if c.role is ContainerRole.INIT]
    if phase is PodPhase.STOPPED:
        return "Stopped"
    if phase is PodPhase.PENDING and inits:
        done = sum(1 for c in inits if c.status is ContainerStatus.EXITED and c.exit_code == 0)
        if done < len(inits):
            if any(c.reason == "CrashLoopBackOff" and c.status is ContainerStatus.EXITED for c in inits):
                return "Init:CrashLoopBackOff"
            failed = [c for c in inits if c.status is ContainerStatus.EXITED and c.exit_code]
            return "Init:Error" if failed else f"Init:{done}/{len(inits)}"
    if phase is PodPhase.FAILED and inits and any(c.exit_code for c in inits if c.status is ContainerStatus.EXITED):
        return "Init:Error"
    waiting = [c for c in members if c.reason == "CrashLoopBackOff"]
    if waiting:
        return "CrashLoopBackOff"
    if phase is PodPhase.SUCCEEDED:
        return "Completed"
    if phase is PodPhase.FAILED:
        return "Error"
    if phase is PodPhase.RUNNING and any(c.status is ContainerStatus.EXITED for c in members):
        exited = [c for c in members if c.status is ContainerStatus.EXITED]
        return "Completed" if all(c.exit_code == 0 for c in exited) and len(exited) == len(members) else (
            "Error" if any(c.exit_code for c in exited) else "Running")
    if phase is PodPhase.PENDING:
        return "ContainerCreating" if members else "Pending"
    return phase.value

"""Reading status truthfully: reconcile stored state with what really runs, and derive pod phase.

After a reboot the run root is empty: its session marker is gone, so every container recorded as
running under another session reads as exited — a stale PID is never trusted.
"""

from __future__ import annotations

import os
import time
import uuid

from kubeplay.config import Settings
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.pods.paths import ContainerPaths


def session_id(settings: Settings) -> str:
    marker = settings.runroot / "session"
    try:
        return marker.read_text().strip()
    except FileNotFoundError:
        settings.runroot.mkdir(parents=True, exist_ok=True)
        value = uuid.uuid4().hex
        tmp = marker.with_suffix(f".{os.getpid()}")
        tmp.write_text(value)
        try:
            os.link(tmp, marker)  # first writer wins; later ones read its value
        except FileExistsError:
            pass
        tmp.unlink()
        return marker.read_text().strip()


def read_exit_file(settings: Settings, container_id: str) -> int | None:
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


def reconcile_container(store, settings: Settings, record: ContainerRecord) -> ContainerRecord:
    """Correct a record that says running when it no longer is; returns the truthful record."""
    if record.status is not ContainerStatus.RUNNING:
        return record
    current = session_id(settings)
    stale = store.boot_id(record.id) != current
    code = None if stale else read_exit_file(settings, record.id)
    if not stale and code is None and _alive(record.pid):
        return record
    reason = "host rebooted or run root removed" if stale else ("Completed" if code == 0 else "Error")
    store.set_container_state(record.id, status=ContainerStatus.EXITED, exit_code=code,
                              finished_at=time.time(), pid=None, reason=reason)
    return store.get_container(record.id) or record


def reconcile_pod(store, settings: Settings, pod: PodRecord) -> PodRecord:
    changed = False
    for container in pod.containers:
        fixed = reconcile_container(store, settings, container)
        changed |= fixed is not container
    return store.get_pod(pod.name) if changed else pod


def derive_phase(pod: PodRecord) -> PodPhase:
    if pod.phase is PodPhase.STOPPED:
        return PodPhase.STOPPED
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER]
    inits = [c for c in pod.containers if c.role is ContainerRole.INIT]
    if pod.phase is PodPhase.FAILED and any(c.status is ContainerStatus.EXITED and c.exit_code for c in inits):
        return PodPhase.FAILED
    if any(c.status is ContainerStatus.RUNNING for c in members):
        return PodPhase.RUNNING
    if members and all(c.status is ContainerStatus.EXITED for c in members):
        if pod.plan.restart_policy == "Always":
            return PodPhase.RUNNING  # between restarts
        if all(c.exit_code == 0 for c in members):
            return PodPhase.SUCCEEDED
        if pod.plan.restart_policy == "Never" or any(c.reason == "host rebooted or run root removed" for c in members):
            return PodPhase.FAILED
        return PodPhase.RUNNING
    return PodPhase.PENDING


def display_status(pod: PodRecord) -> str:
    """The STATUS column of `kubeplay pods`, as kubectl shows it."""
    phase = derive_phase(pod)
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER]
    inits = [c for c in pod.containers if c.role is ContainerRole.INIT]
    if phase is PodPhase.STOPPED:
        return "Stopped"
    if phase is PodPhase.PENDING and inits:
        done = sum(1 for c in inits if c.status is ContainerStatus.EXITED and c.exit_code == 0)
        if done < len(inits):
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

"""What comes before a pod's containers get their stop signal, on `down`, `pod stop`, `pod rm`,
`play --replace` and a failed Job: the pod's probe monitor is ended (nothing probes or kills a
container that is already terminating), then every running container's preStop hook runs, all at
once, inside the grace period. What is left of the grace is for the stop signal; at least
MIN_GRACE_AFTER_HOOK seconds, as the kubelet gives after a preStop hook.

The monitor process itself is kubeplay.controllers.monitor; it keeps its pid in the pod's run
directory (MONITOR_PIDFILE), where this module and the monitor's launcher look for it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from kubeplay.config import Settings
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodRecord
from kubeplay.pods.engine import Engine
from kubeplay.pods.paths import PodPaths

MONITOR_PIDFILE = "monitor.pid"
MONITOR_MODULE = "kubeplay.controllers.monitor"
MONITOR_END_WAIT = 2.0  # seconds for the monitor to leave after SIGTERM; then SIGKILL
MIN_GRACE_AFTER_HOOK = 2


def monitor_pid(settings: Settings, pod_id: str) -> int | None:
    """The pid of the pod's running probe monitor, or None. The pid is checked against the
    process's command line, so a pid reused after a reboot or a crash is not taken for it."""
    try:
        pid = int((PodPaths(settings, pod_id).run_dir / MONITOR_PIDFILE).read_text().strip())
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        state = open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if any(MONITOR_MODULE.encode() in arg for arg in argv) and pod_id.encode() in argv and state != b"Z":
        return pid
    return None


def end_monitor(settings: Settings, pod_id: str) -> None:
    pid = monitor_pid(settings, pod_id)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + MONITOR_END_WAIT
    while monitor_pid(settings, pod_id) == pid:
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        time.sleep(0.02)


def _with_pre_stop(pod: PodRecord) -> list[ContainerRecord]:
    return [c for c in pod.containers if c.role is not ContainerRole.INFRA and c.status is ContainerStatus.RUNNING
            and c.plan is not None and c.plan.pre_stop is not None]


def before_stop(engine: Engine, pod: PodRecord, grace: float) -> float:
    """End the pod's monitor and run its preStop hooks; returns the grace left for the stop signal."""
    return before_stop_all(engine, [pod], lambda _: grace)[pod.name]


def before_stop_all(engine: Engine, pods: list[PodRecord], grace_of: Callable[[PodRecord], float]) -> dict[str, float]:
    """before_stop for many pods at once: their hooks run together. Pod name -> grace left."""
    for pod in pods:
        end_monitor(engine.settings, pod.id)
    graces = {pod.name: grace_of(pod) for pod in pods}
    hooks = [(pod, c) for pod in pods if graces[pod.name] > 0 for c in _with_pre_stop(pod)]
    if not hooks:
        return graces
    started = time.monotonic()
    if len(hooks) == 1:
        _run_pre_stop(engine, *hooks[0], graces[hooks[0][0].name])
    else:
        from concurrent.futures import ThreadPoolExecutor

        engine.prepare_for_threads()
        with ThreadPoolExecutor(max_workers=min(len(hooks), 16), thread_name_prefix="kubeplay-prestop") as pool:
            for future in [pool.submit(_run_pre_stop, engine, pod, c, graces[pod.name]) for pod, c in hooks]:
                future.result()
    elapsed = time.monotonic() - started
    hooked = {pod.name for pod, _ in hooks}
    return {name: max(grace - elapsed, MIN_GRACE_AFTER_HOOK) if name in hooked else grace
            for name, grace in graces.items()}


def _run_pre_stop(engine: Engine, pod: PodRecord, container: ContainerRecord, grace: float) -> None:
    from kubeplay.pods.handlers import pod_target

    run_pre_stop(engine, pod, container, pod_target(engine.settings, pod, container.id), grace)


def run_pre_stop(engine: Engine, pod: PodRecord, container: ContainerRecord, target, grace: float) -> None:
    """One container's preStop hook, within `grace` seconds; a failure is an event, never an error
    (the container is stopped all the same)."""
    from kubeplay.model.events import WARNING
    from kubeplay.pods.handlers import describe_hook, run_handler
    from kubeplay.store.events import EventStore

    action = container.plan.pre_stop  # type: ignore[union-attr]
    result = run_handler(engine.runtime, action, target, grace)
    if not result.ok:
        EventStore(engine.db).add(pod.name, container.name, WARNING, "FailedPreStopHook",
                                  f'{describe_hook(action)} for Container "{container.name}" in Pod "{pod.shown_name}" '
                                  f"failed - error: {result.message}")

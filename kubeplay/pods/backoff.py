"""Kubernetes' restart back-off, and the detached waiter that starts a container again after it.

A container due for a restart (a crashed member, a failed init container being retried) is handed
to `kubeplay container-restart ID`, a process of its own that waits out the back-off and starts the
container again if its pod is still wanted. Nothing else stays alive: no daemon.
"""

from __future__ import annotations

import subprocess

from kubeplay.model.record import PodPhase
from kubeplay.pods import containers
from kubeplay.pods.engine import Engine

BACKOFF_START = 10.0
BACKOFF_CAP = 300.0
BACKOFF_RESET_AFTER = 600.0


def backoff_delay(step: int) -> float:
    """Seconds to wait before restart number `step` + 1 (step 0 restarts at once)."""
    if step <= 0:
        return 0.0
    return min(BACKOFF_START * 2 ** (step - 1), BACKOFF_CAP)


def spawn_restart(engine: Engine, container_id: str) -> None:
    subprocess.Popen(
        containers.callback_argv(engine, "container-restart", container_id),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


def still_wanted(engine: Engine, container_id: str) -> bool:
    """The container's pod is still there and neither stopped nor failed."""
    record = engine.store.get_container(container_id)
    pod = engine.store.find_pod(record.pod) if record else None
    return pod is not None and pod.phase not in (PodPhase.STOPPED, PodPhase.FAILED)

"""exec: run a command in a running container of a pod, returning its exit code."""

from __future__ import annotations

from kubeplay.errors import ConflictError
from kubeplay.model.record import ContainerStatus
from kubeplay.pods.engine import Engine
from kubeplay.pods.logs import pick_container
from kubeplay.pods.status import reconcile_pod


def exec_in_pod(engine: Engine, pod_name: str, argv: list[str], *, container: str | None = None,
                interactive: bool = False, tty: bool = False) -> int:
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(pod_name))
    target = pick_container(pod, container)
    if target.status is not ContainerStatus.RUNNING:
        raise ConflictError(f'container "{target.name}" in pod "{pod_name}" is not running ({target.status.value})',
                            hint=f"`kubeplay logs {pod_name} -c {target.name}` shows why it ended")
    return engine.runtime.exec(target.id, argv, tty=tty, interactive=interactive)

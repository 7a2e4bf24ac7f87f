"""exec: run a command in a running container of a pod, returning its exit code."""

from __future__ import annotations

from collections.abc import Callable

from kubeplay.errors import ConflictError, HostError, UserError
from kubeplay.model.record import ContainerStatus
from kubeplay.names import DEFAULT_NAMESPACE, pod_arguments
from kubeplay.pods.engine import Engine
from kubeplay.pods.logs import pick_container
from kubeplay.pods.status import reconcile_pod


class ExecCommandNotFound(UserError):
    """exec's command is not in the container: 127, as a shell, podman and docker exit."""

    exit_code = 127


class ExecCommandNotRunnable(UserError):
    """exec's command exists but cannot be executed: 126, as a shell, podman and docker exit."""

    exit_code = 126


def exec_in_pod(engine: Engine, pod_name: str, argv: list[str], *, container: str | None = None,
                interactive: bool = False, tty: bool = False, env: dict[str, str] | None = None,
                user: str = "", workdir: str = "", notice: Callable[[str], None] | None = None,
                namespace: str = DEFAULT_NAMESPACE) -> int:
    """Run `argv` in a container of the pod (`pod_name` may be TYPE/NAME: a pod of that workload or
    Service) of `namespace`, with `env` added, as `user` ("name", "uid", "uid:gid", "name:group", resolved in the
    container's own /etc/passwd and /etc/group) and in `workdir`."""
    from kubeplay.pods.targets import resolve_pod

    pod = reconcile_pod(engine.store, engine.settings, resolve_pod(engine, pod_name, namespace))
    target = pick_container(pod, container, notice)
    if target.status is not ContainerStatus.RUNNING:
        raise ConflictError(f'container "{target.name}" in pod "{pod.shown_name}" is not running ({target.status.value})',
                            hint=f"`kubeplay logs {pod_arguments(pod.namespace, pod.shown_name)} -c {target.name}` "
                                 "shows why it ended")
    from kubeplay.runtime.mountroot import CHROOT_HINT, CHROOT_MESSAGE, exec_enters_host_root

    if exec_enters_host_root():
        raise HostError(f'cannot exec in container "{target.name}" of pod "{pod.shown_name}": {CHROOT_MESSAGE}',
                        hint=CHROOT_HINT)
    env = dict(env or {})
    ids = None
    if user:
        from kubeplay.oci.users import resolve_user
        from kubeplay.pods.paths import ContainerPaths

        resolved = resolve_user(ContainerPaths(engine.settings, target.id).rootfs, user, container=target.name)
        ids = (resolved.uid, resolved.gid)
        if resolved.home and "HOME" not in env:
            env["HOME"] = resolved.home
    from kubeplay.runtime.classify import ExecPermissionDenied, ExecutableNotFound

    try:
        return engine.runtime.exec(target.id, argv, tty=tty, interactive=interactive, env=env,
                                   cwd=workdir or None, user=ids)
    except ExecutableNotFound:
        raise ExecCommandNotFound(
            f'container "{target.name}" in pod "{pod.shown_name}": command "{argv[0]}" not found',
            hint=("" if "/" in argv[0] else "a name without a slash is looked up in the container's PATH; ")
            + f"`kubeplay exec {pod_arguments(pod.namespace, pod.shown_name)} -c {target.name} -- ls /bin` "
              "shows what the image has") from None
    except ExecPermissionDenied:
        raise ExecCommandNotRunnable(
            f'container "{target.name}" in pod "{pod.shown_name}": command "{argv[0]}" cannot be run '
            "(a directory, a file without execute permission, or a program for another machine)",
            hint="name an executable file of the image") from None

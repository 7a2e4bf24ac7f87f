"""One container's life on the host: rootfs, bundle, conmon + runtime create, start, stop, remove."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

from kubeplay.errors import RuntimeFailure
from kubeplay.model.record import ContainerStatus
from kubeplay.pods import mounts
from kubeplay.pods.engine import Engine
from kubeplay.pods.paths import ContainerPaths, runtime_state_root
from kubeplay.pods.status import session_id


def mount_rootfs(engine: Engine, container_id: str, diff_ids: tuple[str, ...]) -> Path:
    from kubeplay.images.layers import LayerStore

    paths = ContainerPaths(engine.settings, container_id)
    layers = LayerStore(engine.settings.root)
    for directory in (paths.upper, paths.work):
        directory.mkdir(parents=True, exist_ok=True)
    if not mounts.is_mounted(paths.rootfs):
        lowers = [layers.path(d) for d in reversed(diff_ids)]
        if engine.settings.rootless:
            from kubeplay.rootless.overlay import mount_rootfs as mount_rootless

            # native overlay with userxattr inside the user namespace, else fuse-overlayfs
            mount_rootless(lowers, paths.upper, paths.work, paths.rootfs, engine.settings.runroot)
        else:
            mounts.mount_overlay(lowers, paths.upper, paths.work, paths.rootfs)
    return paths.rootfs


def reset_writable_layer(engine: Engine, container_id: str, diff_ids: tuple[str, ...]) -> None:
    """A restarted container starts from the image again, as on Kubernetes (a new container)."""
    paths = ContainerPaths(engine.settings, container_id)
    mounts.unmount(paths.rootfs)
    shutil.rmtree(paths.upper, ignore_errors=True)
    shutil.rmtree(paths.work, ignore_errors=True)
    mount_rootfs(engine, container_id, diff_ids)


def callback_argv(engine: Engine, verb: str, container_id: str) -> list[str]:
    """The command that records a container's exit (conmon's exit command) or restarts it.

    As root it is the light entry `python -m kubeplay.cli.internal` (store and restart logic only:
    with 50 pods going down, 50 of these start at once on a busy host); rootless it is the full CLI,
    which enters the user's namespace first.
    """
    if engine.settings.rootless:
        return engine.callback_argv(verb, container_id)
    argv = [sys.executable, "-m", "kubeplay.cli.internal", "--root", str(engine.settings.root),
            "--runroot", str(engine.settings.runroot)]
    if engine.settings.runtime:
        argv += ["--runtime", engine.settings.runtime]
    return argv + [verb, container_id]


def launch(engine: Engine, container_id: str, name: str, *, tty: bool = False, stdin: bool = False,
           exit_callback: bool = True) -> int:
    """conmon runs `runtime create` on the written bundle; then we start it. Returns the container pid.

    Without `exit_callback` nothing runs when the container ends (the infra: nothing restarts it,
    and status reads its exit file), which spares a kubeplay start-up per pod at down."""
    from kubeplay.runtime.conmon import ConmonSpec, create_container

    paths = ContainerPaths(engine.settings, container_id)
    paths.exit_dir.mkdir(parents=True, exist_ok=True)
    paths.persist_dir.mkdir(parents=True, exist_ok=True)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    try:
        paths.exit_file.unlink()
    except FileNotFoundError:
        pass
    spec = ConmonSpec(
        container_id=container_id,
        name=name,
        bundle=paths.bundle,
        runtime_path=engine.runtime_info.path,
        runtime_root=runtime_state_root(engine.settings),
        pidfile=paths.pidfile,
        conmon_pidfile=paths.conmon_pidfile,
        exit_dir=paths.exit_dir,
        persist_dir=paths.persist_dir,
        log_path=paths.log,
        socket_dir=engine.settings.runroot / "sockets",
        exit_command=tuple(callback_argv(engine, "container-exited", container_id)) if exit_callback else (),
        terminal=tty,
        stdin=stdin,
    )
    pid = create_container(spec)
    engine.runtime.start(container_id)
    engine.store.set_container_state(
        container_id, status=ContainerStatus.RUNNING, pid=pid, started_at=time.time(),
        exit_code=None, finished_at=None, boot_id=session_id(engine.settings), reason="",
    )
    return pid


def stop(engine: Engine, container_id: str, grace_seconds: int, stop_signal: str = "SIGTERM") -> None:
    """SIGTERM (or the image's stop signal), wait the grace period, then SIGKILL."""
    state = engine.runtime.state(container_id)
    if not state or state.get("status") not in ("running", "created", "paused"):
        return
    if state.get("status") == "running":
        try:
            engine.runtime.kill(container_id, stop_signal or "SIGTERM")
        except RuntimeFailure:
            pass
        deadline = time.monotonic() + max(grace_seconds, 0)
        while time.monotonic() < deadline:
            current = engine.runtime.state(container_id)
            if not current or current.get("status") != "running":
                return
            time.sleep(0.05)
    try:
        # `kill --all` finds processes through the container's cgroup, which a rootless container
        # lacks; its init is PID 1 of its own PID namespace, so killing it ends the rest too
        engine.runtime.kill(container_id, "SIGKILL", all=not engine.settings.rootless)
    except RuntimeFailure:
        pass
    _wait_not_running(engine, container_id, 10)


def _wait_not_running(engine: Engine, container_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current = engine.runtime.state(container_id)
        if not current or current.get("status") != "running":
            return
        time.sleep(0.05)


def wait_conmon_gone(engine: Engine, container_id: str, seconds: float = 5) -> None:
    """conmon writes the exit file and runs the exit command after the container dies; wait for it.

    A zombie conmon counts as gone: it has done its work and only waits for init to reap it.
    """
    from kubeplay.runtime.conmon import conmon_pid

    pidfile = ContainerPaths(engine.settings, container_id).conmon_pidfile
    deadline = time.monotonic() + seconds
    pause = 0.005
    while (pid := conmon_pid(pidfile)) is not None:
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def remove(engine: Engine, container_id: str) -> None:
    """Delete the runtime's state, unmount the rootfs and remove every file of the container."""
    paths = ContainerPaths(engine.settings, container_id)
    engine.runtime.delete(container_id, force=True)
    # conmon lingers while its exit command runs (a whole kubeplay start-up); a removed container's
    # exit needs no recording, so give it a moment and then end it
    wait_conmon_gone(engine, container_id, 0.1)
    mounts.unmount(paths.rootfs)
    shutil.rmtree(paths.bundle, ignore_errors=True)
    shutil.rmtree(paths.data_dir, ignore_errors=True)
    try:
        paths.exit_file.unlink()
    except FileNotFoundError:
        pass

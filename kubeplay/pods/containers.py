"""One container's life on the host: rootfs, bundle, conmon + runtime create, start, stop, remove."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.defaults import REMOVING_MARK
from kubeplay.errors import RuntimeFailure
from kubeplay.pods import mounts
from kubeplay.pods.engine import Engine
from kubeplay.pods.paths import ContainerPaths, runtime_state_root
from kubeplay.pods.status import session_id


def mount_rootfs(engine: Engine, container_id: str, diff_ids: tuple[str, ...]) -> Path:
    from kubeplay.images.lookup import layer_path

    paths = ContainerPaths(engine.settings, container_id)
    for directory in (paths.upper, paths.work):
        directory.mkdir(parents=True, exist_ok=True)
    if not mounts.is_mounted(paths.rootfs):
        lowers = [layer_path(engine.settings.root, d) for d in reversed(diff_ids)]
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
    import shutil

    shutil.rmtree(paths.upper, ignore_errors=True)
    shutil.rmtree(paths.work, ignore_errors=True)
    mount_rootfs(engine, container_id, diff_ids)


# conmon's exit command runs kubeplay only while the container's bundle is there and not marked
# as being removed: the hundreds of exit callbacks that removing a big pod sets off then end in the
# shell, instead of each starting Python and loading the store to learn there is nothing to do
EXIT_GUARD = 'if [ -d "$0" ] && [ ! -e "$0/' + REMOVING_MARK + '" ]; then exec "$@"; fi'


def callback_argv(engine: Engine, verb: str, container_id: str) -> list[str]:
    """The command that records a container's exit (conmon's exit command) or restarts it."""
    argv = engine.callback_argv(verb, container_id)
    if verb != "container-exited":
        return argv
    bundle = ContainerPaths(engine.settings, container_id).bundle
    return ["/bin/sh", "-c", EXIT_GUARD, str(bundle), *argv]


def mark_removing(engine: Engine, pod) -> None:
    """Mark the bundles of a pod being removed: its containers' exit callbacks then end at once
    (see EXIT_GUARD)."""
    for container in pod.containers:
        try:
            (ContainerPaths(engine.settings, container.id).bundle / REMOVING_MARK).touch()
        except OSError:
            pass  # no bundle (never made, or gone): its callback finds nothing to do either


def launch(engine: Engine, container_id: str, name: str, *, tty: bool = False, stdin: bool = False,
           exit_callback: bool = True) -> int:
    """Create the container from its written bundle, then start it. Returns the container pid."""
    pid = create(engine, container_id, name, tty=tty, stdin=stdin, exit_callback=exit_callback)
    start(engine, container_id, pid)
    return pid


def create(engine: Engine, container_id: str, name: str, *, tty: bool = False, stdin: bool = False,
           exit_callback: bool = True, listen_fds: int = 0) -> int:
    """conmon runs `runtime create` on the written bundle: the container's namespaces exist and its
    process waits to be started. Returns the container pid.

    Without `exit_callback` nothing runs when the container ends (the infra: nothing restarts it,
    and status reads its exit file), which spares a kubeplay start-up per pod at down.
    `listen_fds`: this process's fds 3, 4, … are the container's socket-activation sockets."""
    from kubeplay.runtime.conmon import ConmonSpec, create_container

    paths = ContainerPaths(engine.settings, container_id)
    paths.exit_dir.mkdir(parents=True, exist_ok=True)
    paths.persist_dir.mkdir(parents=True, exist_ok=True)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    try:
        paths.exit_file.unlink()
    except FileNotFoundError:
        pass
    from kubeplay.config import containers_conf

    log_size_max = containers_conf().log_size_max
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
        # conmon starts the log afresh once it would grow past this: a chatty container cannot fill the disk
        log_size_max=log_size_max if log_size_max > 0 else None,
        socket_dir=engine.settings.runroot / "sockets",
        exit_command=tuple(callback_argv(engine, "container-exited", container_id)) if exit_callback else (),
        terminal=tty,
        stdin=stdin,
        listen_fds=listen_fds,
    )
    return create_container(spec)


def start(engine: Engine, container_id: str, pid: int) -> None:
    """Start a created container and record it running."""
    engine.runtime.start(container_id)
    engine.store.record_started(container_id, pid, time.time(), session_id(engine.settings))


@dataclass(frozen=True)
class StopRequest:
    """One container to stop: its recorded init pid, the signal that asks it to end, its grace."""

    container_id: str
    pid: int | None
    signal: str = "SIGTERM"
    grace: float = 0.0


def stop(engine: Engine, container_id: str, grace_seconds: int, stop_signal: str = "SIGTERM",
         pid: int | None = None) -> None:
    """SIGTERM (or the image's stop signal), wait the grace period, then SIGKILL."""
    stop_all(engine, [StopRequest(container_id, pid, stop_signal or "SIGTERM", grace_seconds)])


def stop_all(engine: Engine, requests: list[StopRequest]) -> None:
    """Signal every container at once, then wait for each until its own grace runs out, then SIGKILL
    the ones still running: the grace periods of many containers (many pods) overlap."""
    signalled = [request for request in requests if _signal(engine, request, request.signal)]
    started = time.monotonic()
    _wait_stopped(engine, signalled, lambda request: started + max(request.grace, 0))
    stubborn = [request for request in signalled if _running(engine, request)]
    for request in stubborn:
        _signal(engine, request, "SIGKILL", every_process=True)
    killed = time.monotonic()
    _wait_stopped(engine, stubborn, lambda request: killed + KILL_WAIT)


KILL_WAIT = 10.0  # seconds for a SIGKILLed container to be gone


RUNNING, GONE, UNKNOWN = "running", "gone", "unknown"


def _init_state(engine: Engine, request: StopRequest) -> str:
    """What /proc says of the recorded init: RUNNING while alive and a child of the container's
    conmon (conmon is its subreaper), GONE once it has exited (or is a zombie), UNKNOWN when it
    cannot be told (no pid, or the pid now belongs to something else): then ask the runtime."""
    from kubeplay.runtime.conmon import conmon_pid

    if not request.pid:
        return UNKNOWN
    try:
        stat = Path(f"/proc/{request.pid}/stat").read_text()
    except OSError:
        return GONE
    fields = stat[stat.rfind(")") + 2:].split()
    if fields[0] == "Z":
        return GONE
    parent = conmon_pid(ContainerPaths(engine.settings, request.container_id).conmon_pidfile)
    return RUNNING if parent is not None and int(fields[1]) == parent else UNKNOWN


def _signal(engine: Engine, request: StopRequest, name: str, every_process: bool = False) -> bool:
    """Send `name`; False when the container was not running. The init is signalled directly when
    it is provably the container's (a runc process per container adds up with 50 pods going
    down); otherwise, or for all its processes, through the runtime."""
    number = _signal_number(name)
    if not every_process and number is not None:
        state = _init_state(engine, request)
        if state == GONE:
            return False
        if state == RUNNING:
            try:
                os.kill(request.pid, number)  # type: ignore[arg-type]
                return True
            except ProcessLookupError:
                return False
    state = engine.runtime.state(request.container_id)
    if not state or state.get("status") not in ("running", "created", "paused"):
        return False
    if state.get("status") != "running" and not every_process:
        return True  # created or paused: only the SIGKILL below ends it
    try:
        # `kill --all` finds processes through the container's cgroup, which a rootless container
        # lacks; its init is PID 1 of its own PID namespace, so killing it ends the rest too
        engine.runtime.kill(request.container_id, name, all=every_process and not engine.settings.rootless)
    except RuntimeFailure:
        pass
    return True


def _signal_number(name: str) -> int | None:
    """SIGTERM, TERM or 15 as a number; None for what this host does not know (the runtime decides)."""
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals[text if text.startswith("SIG") else f"SIG{text}"])
    except KeyError:
        return None


def _running(engine: Engine, request: StopRequest) -> bool:
    state = _init_state(engine, request)
    if state != UNKNOWN:
        return state == RUNNING
    current = engine.runtime.state(request.container_id)  # no pid to go by: ask the runtime
    return bool(current) and current.get("status") == "running"


def _wait_stopped(engine: Engine, requests: list[StopRequest], deadline_of) -> None:
    """Poll, with growing pauses, until every container stopped or passed its own deadline."""
    waiting = list(requests)
    pause = 0.005
    while waiting:
        now = time.monotonic()
        waiting = [r for r in waiting if now < deadline_of(r) and _running(engine, r)]
        if waiting:
            time.sleep(pause)
            pause = min(pause * 1.5, 0.1)


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


def _end_conmon(engine: Engine, container_id: str) -> None:
    from kubeplay.runtime.conmon import conmon_pid

    pid = conmon_pid(ContainerPaths(engine.settings, container_id).conmon_pidfile)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def remove(engine: Engine, container_id: str) -> None:
    """Delete the runtime's state, unmount the rootfs and remove every file of the container; every
    step runs even when one before it failed (a runtime that cannot run must not leave mounts)."""
    from kubeplay.cleanup import run_every_step

    paths = ContainerPaths(engine.settings, container_id)
    run_every_step([
        # a restart waiting out its back-off would otherwise sleep on for minutes, then find nothing
        lambda: end_restart_waiter(paths, container_id),
        lambda: engine.runtime.delete(container_id, force=True),
        # a removed container's exit needs no recording: never wait for conmon or its exit command
        lambda: _end_conmon(engine, container_id),
        lambda: mounts.unmount(paths.rootfs),
        lambda: _remove_files(paths),
    ])


def _remove_files(paths: ContainerPaths) -> None:
    import shutil

    shutil.rmtree(paths.bundle, ignore_errors=True)
    shutil.rmtree(paths.data_dir, ignore_errors=True)
    paths.exit_file.unlink(missing_ok=True)
    paths.attach_link.unlink(missing_ok=True)


def end_restart_waiter(paths: ContainerPaths, container_id: str) -> None:
    """Kill the `container-restart` process of this container, if one is waiting. Its pid is only
    trusted while that process's command line still names the verb and this container."""
    try:
        pid = int(paths.restart_pidfile.read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if b"container-restart" in argv and container_id.encode() in argv:
        try:
            os.kill(pid, signal.SIGKILL)  # it holds nothing while it waits: the pod lock is ours now
        except ProcessLookupError:
            pass
    paths.restart_pidfile.unlink(missing_ok=True)

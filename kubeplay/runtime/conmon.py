"""Starting containers under conmon: the argv (built in one place), the pid hand-off, the exit file.

conmon daemonizes (it forks, and the first process exits after writing the conmon pidfile), runs
``runtime create`` and reports on the sync pipe, one JSON object a line: ``{"data": PID}`` when the
container exists, or a negative ``data`` with a ``message`` holding the runtime's stderr when it does
not. When the container exits, conmon writes the exit code to ``<exit dir>/<id>`` and runs the exit
command. After ``create_container`` the container is "created"; ``OciRuntime.start`` starts it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubeplay.config import ContainersConf
from kubeplay.errors import HostError, RuntimeFailure
from kubeplay.runtime.classify import FailureContext, classify

# How long `runtime create` may take before a container is given up. Generous: a create is quick,
# but a host starting hundreds of containers at once queues them for the CPU.
SYNC_TIMEOUT_ENV = "KUBEPLAY_CREATE_TIMEOUT"
DEFAULT_SYNC_TIMEOUT = 120.0
SERVICE_MANAGER_VARIABLES = ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


def sync_timeout() -> float:
    try:
        value = float(os.environ.get(SYNC_TIMEOUT_ENV, ""))
    except ValueError:
        return DEFAULT_SYNC_TIMEOUT
    return value if value > 0 else DEFAULT_SYNC_TIMEOUT


@dataclass(frozen=True)
class ConmonSpec:
    """Everything conmon needs for one container; paths are absolute."""

    container_id: str
    name: str
    bundle: Path
    runtime_path: str
    runtime_root: Path
    pidfile: Path
    conmon_pidfile: Path
    exit_dir: Path
    persist_dir: Path
    log_path: Path
    socket_dir: Path
    log_size_max: int | None = None
    terminal: bool = False
    stdin: bool = False
    exit_command: tuple[str, ...] = ()
    exit_delay: int = 0
    sync: bool = False
    log_level: str = "error"
    conmon_path: str = "conmon"
    runtime_args: tuple[str, ...] = field(default_factory=tuple)
    listen_fds: int = 0  # socket activation: the caller's fds 3 … 3+N-1 go to the container


def conmon_argv(spec: ConmonSpec) -> list[str]:
    """conmon's full command line for ``spec``. Syslog stays off; conmon's own log level is quiet."""
    argv = [
        spec.conmon_path,
        "--api-version", "1",
        "--cid", spec.container_id,
        # the attach socket lives under <socket dir>/<cuuid>; the id is unique enough
        "--cuuid", spec.container_id,
        "--name", spec.name,
        "--runtime", spec.runtime_path,
        "--bundle", str(spec.bundle),
        "--container-pidfile", str(spec.pidfile),
        "--conmon-pidfile", str(spec.conmon_pidfile),
        "--exit-dir", str(spec.exit_dir),
        "--persist-dir", str(spec.persist_dir),
        "--socket-dir-path", str(spec.socket_dir),
        "--log-path", f"k8s-file:{spec.log_path}",
        "--log-level", spec.log_level,
        # "=" form: glib would take a value starting with "--" for another option
        f"--runtime-arg=--root={spec.runtime_root}",
        "--runtime-arg=--log-format=json",
    ]
    argv += [f"--runtime-arg={arg}" for arg in spec.runtime_args]
    if spec.log_size_max is not None and spec.log_size_max > 0:
        argv += ["--log-size-max", str(spec.log_size_max)]
    if spec.terminal:
        argv.append("--terminal")
    if spec.stdin:
        argv.append("--stdin")
    if spec.exit_command:
        argv += ["--exit-command", spec.exit_command[0]]
        for arg in spec.exit_command[1:]:
            argv.append(f"--exit-command-arg={arg}")
        if spec.exit_delay:
            argv += ["--exit-delay", str(spec.exit_delay)]
    if spec.sync:
        argv.append("--sync")
    if spec.listen_fds:
        # conmon keeps fds 3… open and sets LISTEN_PID to the runtime's pid, so the runtime takes
        # them as its own activation sockets and gives them to the container (LISTEN_PID=1 there)
        argv.append("--replace-listen-pid")
    return argv


def runtime_environment() -> dict[str, str]:
    """kubeplay's environment without a service manager's variables, for conmon and the runtime."""
    return {name: value for name, value in os.environ.items() if name not in SERVICE_MANAGER_VARIABLES}


def find_conmon() -> str:
    """conmon's path: containers.conf `engine.conmon_path`, else PATH and the usual libexec places."""
    configured = ContainersConf.load().conmon_path
    if configured:
        return configured
    found = shutil.which("conmon")
    if found:
        return found
    for candidate in ("/usr/libexec/podman/conmon", "/usr/local/libexec/podman/conmon", "/usr/bin/conmon"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise HostError("conmon not found", hint="install conmon (apt-get install conmon)")


def parse_sync_message(line: str) -> tuple[int, str | None]:
    """One line of the sync pipe: (data, message). Older conmons name the key `pid`."""
    try:
        payload = json.loads(line)
    except ValueError as exc:
        raise RuntimeFailure(f"conmon sent an unreadable message on its sync pipe: {line[:200]!r}",
                             hint="check the conmon version with `kubeplay system check`") from exc
    value = payload.get("data", payload.get("pid", payload.get("exit_code")))
    if not isinstance(value, int):
        raise RuntimeFailure(f"conmon sent no pid on its sync pipe: {line[:200]!r}",
                             hint="check the conmon version with `kubeplay system check`")
    return value, payload.get("message")


def _read_sync_line(fd: int, deadline: float) -> str | None:
    """The first complete line from the sync pipe, or None at EOF; raises at the deadline.
    poll, not select: select cannot watch a descriptor numbered 1024 or more, which a pod of
    hundreds of containers, or a caller holding many files open, reaches."""
    buffer = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if not poller.poll(max(1, int(remaining * 1000))):
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return buffer.decode(errors="replace") or None
        buffer += chunk
    return buffer.split(b"\n", 1)[0].decode(errors="replace")


def create_container(spec: ConmonSpec, timeout: float | None = None) -> int:
    """Start conmon for ``spec`` and return the container's pid once the runtime has created it."""
    timeout = sync_timeout() if timeout is None else timeout
    if os.sep not in spec.conmon_path:
        spec = _with_conmon_path(spec, find_conmon() if spec.conmon_path == "conmon" else spec.conmon_path)
    for directory in (spec.exit_dir, spec.persist_dir, spec.socket_dir, spec.log_path.parent):
        directory.mkdir(parents=True, exist_ok=True)
    ctx = FailureContext(runtime=Path(spec.runtime_path).name, action="create", container=spec.name)
    read_end, write_end = os.pipe()
    # a service manager's variables never reach conmon unless meant for this container: runc would
    # take NOTIFY_SOCKET as its cue to wait in `start` for the container's own READY=1
    env = runtime_environment()
    env["_OCI_SYNCPIPE"] = str(write_end)
    listen = tuple(range(3, 3 + spec.listen_fds))
    if listen:
        env.update(LISTEN_FDS=str(len(listen)), LISTEN_PID="1")  # conmon puts the runtime's pid here
    deadline = time.monotonic() + timeout
    # conmon's own complaints (bad flags) go to a file, never to our stdout/stderr: a daemon holding
    # a caller's pipe open would keep that caller waiting long after kubeplay returned.
    # an anonymous in-memory file: nothing to name, place or remove
    with open(os.memfd_create("conmon-stderr", os.MFD_CLOEXEC), "w+b") as conmon_stderr:
        try:
            try:
                process = subprocess.Popen(conmon_argv(spec), stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=conmon_stderr,
                                           pass_fds=(write_end, *listen), env=env, cwd=str(spec.bundle),
                                           start_new_session=True)
            except OSError as exc:
                raise HostError(f"cannot execute conmon ({spec.conmon_path}): {exc.strerror}",
                                hint="install conmon, or set engine.conmon_path in containers.conf") from exc
            finally:
                os.close(write_end)
            if not spec.sync:
                _wait_first_conmon(process, deadline)
            try:
                line = _read_sync_line(read_end, deadline)
            except TimeoutError:
                alive = conmon_pid(spec.conmon_pidfile)
                stop_conmon(spec.conmon_pidfile)
                waited = (f"conmon (pid {alive}) was still waiting for `{Path(spec.runtime_path).name} create`"
                          if alive else "conmon never wrote its pid file")
                raise RuntimeFailure(
                    f'container "{spec.name}": no pid from the runtime within {timeout:.0f} s: {waited}',
                    hint="the host may be overloaded or the runtime stuck; retry, or raise "
                         f"{SYNC_TIMEOUT_ENV} (seconds); `kubeplay system check` tests the runtime") from None
        finally:
            os.close(read_end)
        if line is None:
            conmon_stderr.seek(0)
            text = conmon_stderr.read().decode(errors="replace").strip()
            raise classify(text or "conmon exited without reporting a pid", ctx)
    pid, message = parse_sync_message(line)
    if pid < 0:
        raise classify(message or "the runtime failed without saying why", ctx)
    return pid


def _with_conmon_path(spec: ConmonSpec, path: str) -> ConmonSpec:
    from dataclasses import replace

    return replace(spec, conmon_path=path)


def _wait_first_conmon(process: subprocess.Popen, deadline: float) -> None:
    """Reap the first conmon process, which exits once its daemon child is forked."""
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def read_exit_code(exit_dir: Path, container_id: str) -> int | None:
    """The exit code conmon recorded, or None while the container has not exited."""
    try:
        text = (exit_dir / container_id).read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def conmon_pid(conmon_pidfile: Path) -> int | None:
    """The pid of the conmon named in ``conmon_pidfile``, if that process is still a conmon."""
    try:
        pid = int(conmon_pidfile.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # "PID (comm) STATE ...": after a reboot the pid may belong to something else, and a zombie
    # conmon waiting for init to reap it is already gone for our purposes
    comm = stat[stat.find("(") + 1:stat.rfind(")")]
    state = stat[stat.rfind(")") + 2:stat.rfind(")") + 3]
    return pid if comm == "conmon" and state != "Z" else None


def stop_conmon(conmon_pidfile: Path, timeout: float = 5.0) -> None:
    """Terminate a conmon (its container is the caller's business) and wait for it to go."""
    pid = conmon_pid(conmon_pidfile)
    if pid is None:
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and conmon_pid(conmon_pidfile) == pid:
        time.sleep(0.02)

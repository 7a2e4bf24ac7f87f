"""A thin, stateless wrapper over one OCI runtime binary (runc or crun) and one state root.

Every call passes ``--root state_root`` and ``--log-format json`` so failures can be parsed; failures
raise the typed errors of ``classify``. No lifecycle rules live here: the caller decides what to call.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

from kubeplay.errors import RuntimeFailure
from kubeplay.runtime.classify import ContainerUnknown, FailureContext, classify, stderr_messages
from kubeplay.runtime.conmon import runtime_environment
from kubeplay.runtime.probe import RuntimeInfo

COMMAND_TIMEOUT = 30.0
# What runc/crun print when asked to signal a process that has already gone.
_ALREADY_GONE = ("container not running", "process already finished", "no such process",
                 "is not running")


class OciRuntime:
    def __init__(self, info: RuntimeInfo, state_root: Path) -> None:
        self.info = info
        self.state_root = state_root

    @property
    def base_argv(self) -> list[str]:
        return [self.info.path, "--root", str(self.state_root)]

    def log_target(self, path: Path) -> str:
        """The value of --log for a file: crun wants a `file:` prefix, runc a plain path."""
        return f"file:{path}" if Path(self.info.path).name.startswith("crun") else str(path)

    def _run(self, args: list[str], container: str, action: str,
             timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        argv = [*self.base_argv, "--log-format", "json", *args]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, env=runtime_environment())
        except subprocess.TimeoutExpired as exc:
            raise RuntimeFailure(f'container "{container}": {self.info.name} {action} did not finish '
                                 f"within {timeout:.0f}s",
                                 hint="the host may be overloaded or a process is stuck in the kernel; "
                                      "retry, then check `ps` for stuck runtime processes") from exc
        except OSError as exc:
            raise RuntimeFailure(f"cannot execute {self.info.path}: {exc.strerror}",
                                 hint="reinstall the runtime, or pick another with --runtime") from exc

    def _fail(self, done: subprocess.CompletedProcess[str], container: str, action: str) -> RuntimeFailure:
        return classify(done.stderr, FailureContext(self.info.name, action, container))

    def start(self, container_id: str) -> None:
        done = self._run(["start", container_id], container_id, "start")
        if done.returncode != 0:
            raise self._fail(done, container_id, "start")

    def state(self, container_id: str) -> dict | None:
        """The runtime's view (status, pid, bundle), or None when it does not know the container."""
        done = self._run(["state", container_id], container_id, "state")
        if done.returncode != 0:
            error = self._fail(done, container_id, "state")
            if isinstance(error, ContainerUnknown):
                return None
            raise error
        try:
            return json.loads(done.stdout)
        except ValueError as exc:
            raise RuntimeFailure(f'container "{container_id}": {self.info.name} state printed no JSON',
                                 hint="check the runtime installation with `kubeplay system check`") from exc

    def kill(self, container_id: str, signal: str | int, all: bool = False) -> None:
        """Signal the container's process (or all of them); a process that already exited is fine."""
        args = ["kill", *(["--all"] if all else []), container_id, str(signal)]
        done = self._run(args, container_id, "kill")
        if done.returncode == 0:
            return
        text = " ".join(stderr_messages(done.stderr)).lower()
        if any(phrase in text for phrase in _ALREADY_GONE):
            return
        raise self._fail(done, container_id, "kill")

    def delete(self, container_id: str, force: bool = False) -> None:
        """Remove the runtime's state for the container; one that is already gone is not an error."""
        done = self._run(["delete", *(["--force"] if force else []), container_id], container_id, "delete")
        if done.returncode == 0:
            return
        error = self._fail(done, container_id, "delete")
        if not isinstance(error, ContainerUnknown):
            raise error

    def ps(self, container_id: str) -> list[int]:
        """Host pids of every process in the container."""
        done = self._run(["ps", "--format", "json", container_id], container_id, "ps")
        if done.returncode != 0:
            raise self._fail(done, container_id, "ps")
        try:
            return [int(pid) for pid in json.loads(done.stdout or "[]") or []]
        except (ValueError, TypeError) as exc:
            raise RuntimeFailure(f'container "{container_id}": {self.info.name} ps printed no pid list',
                                 hint="check the runtime installation with `kubeplay system check`") from exc

    def exec_argv(self, container_id: str, process_json_path: Path, tty: bool,
                  detach: bool = False) -> list[str]:
        """The argv of `runtime exec` for a process spec already written to ``process_json_path``."""
        argv = [*self.base_argv, "exec", "--process", str(process_json_path)]
        if tty:
            argv.append("--tty")
        if detach:
            argv.append("--detach")
        return [*argv, container_id]

    def exec_process(self, container_id: str, argv: list[str], *, tty: bool,
                     env: Mapping[str, str] | None = None, cwd: str | None = None,
                     user: tuple[int, int] | None = None) -> dict:
        """A process spec for exec: the container's own process (capabilities, rlimits, user, env)
        with the given command and overrides, so an exec runs with the same privileges."""
        from kubeplay.runtime.bundle_exec import bundle_process, process_spec

        state = self.state(container_id)
        if state is None:
            raise ContainerUnknown(f'container "{container_id}" is not known to {self.info.name}',
                                   hint="the container is not running; start its pod first")
        bundle = state.get("bundle")
        base = bundle_process(bundle) if bundle else {}
        return process_spec(base, argv, tty=tty, env=env, cwd=cwd, user=user)

    def exec(self, container_id: str, argv: list[str], *, tty: bool = False, interactive: bool = False,
             env: Mapping[str, str] | None = None, cwd: str | None = None,
             user: tuple[int, int] | None = None, timeout: float | None = None) -> int:
        """Run ``argv`` in the container with this process's stdio; return its exit code.

        The runtime's own failures (e.g. the executable is missing) raise a classified error; they are
        told apart from the process exiting non-zero by the runtime's error log.
        """
        process = self.exec_process(container_id, argv, tty=tty, env=env, cwd=cwd, user=user)

        def run(command: list[str]) -> subprocess.CompletedProcess:
            try:
                return subprocess.run(command, stdin=None if interactive else subprocess.DEVNULL, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise RuntimeFailure(f'container "{container_id}": exec of {argv[0]!r} did not finish '
                                     f"within {timeout}s", hint="raise the timeout or fix the command") from exc

        return self._run_exec(container_id, process, tty, run).returncode

    def exec_output(self, container_id: str, argv: list[str], timeout: float, limit: int = 10240) -> tuple[int, str]:
        """Run ``argv`` in the container without a terminal, for a probe or a hook: its exit code and
        the start of its output (stdout and stderr together, at most ``limit`` bytes). A command that
        outlives ``timeout`` raises ExecTimedOut; the runtime's own failures a classified error."""
        process = self.exec_process(container_id, argv, tty=False)

        def run(command: list[str]) -> subprocess.CompletedProcess:
            try:
                return subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise ExecTimedOut(f"command {argv!r} timed out after {timeout:g}s",
                                   hint="raise the probe's timeoutSeconds, or make the command quicker") from exc

        done = self._run_exec(container_id, process, False, run)
        return done.returncode, done.stdout[:limit].decode(errors="replace")

    def _run_exec(self, container_id: str, process: dict, tty: bool, run) -> subprocess.CompletedProcess:
        """`runtime exec` of `process` through `run` (which starts it and bounds it), with the
        runtime's own log read back: its failures, told apart from the process exiting non-zero,
        raise a classified error."""
        import tempfile  # only exec needs a scratch directory

        from kubeplay.runtime.bundle_exec import error_lines
        from kubeplay.runtime.mountroot import CHROOT_HINT, CHROOT_MESSAGE, exec_enters_host_root

        if exec_enters_host_root():
            raise RuntimeFailure(f'container "{container_id}": cannot exec: {CHROOT_MESSAGE}', hint=CHROOT_HINT)

        with tempfile.TemporaryDirectory(prefix="exec-") as scratch:
            spec = Path(scratch) / "process.json"
            spec.write_text(json.dumps(process))
            log = Path(scratch) / "runtime.log"
            command = self.exec_argv(container_id, spec, tty)
            command[1:1] = ["--log", self.log_target(log), "--log-format", "json"]
            try:
                done = run(command)
            except OSError as exc:
                raise RuntimeFailure(f"cannot execute {self.info.path}: {exc.strerror}",
                                     hint="reinstall the runtime, or pick another with --runtime") from exc
            errors = log.read_text(errors="replace") if log.exists() else ""
        if done.returncode != 0 and stderr_messages(error_lines(errors)):
            raise classify(error_lines(errors), FailureContext(self.info.name, "exec", container_id))
        return done


class ExecTimedOut(RuntimeFailure):
    """A command run by exec_output did not end within its timeout (it was killed)."""

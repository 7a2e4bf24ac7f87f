"""`runtime exec` in a container whose bundle the caller knows: the probe monitor's exec probes and
hooks, run in a child forked from the monitor once every period.

The bundle holds the container's config.json, so its process (user, capabilities, rlimits, env)
is read from there rather than asked of the runtime with `runtime state`; the store, the engine
and the plan models are not needed either. The monitor's launcher writes each exec probe's process
spec once (`process_json`), so what a probe's child imports — what it pays for on every probe —
is os and subprocess alone; json only when the runtime failed and its log is read.
"""

from __future__ import annotations

import os
import subprocess


class ExecTimeout(Exception):
    """The command outlived its timeout and was killed."""


def process_spec(base: dict, argv: list[str], *, tty: bool, env: dict[str, str] | None = None,
                 cwd: str | None = None, user: tuple[int, int] | None = None) -> dict:
    """A process spec for exec: the container's own process `base` with the given command and
    overrides, so an exec runs with the same privileges."""
    process = dict(base)
    process["args"] = list(argv)
    process["terminal"] = tty
    process.pop("consoleSize", None)
    merged = dict(entry.split("=", 1) for entry in base.get("env", []) if "=" in entry)
    merged.update(env or {})
    process["env"] = [f"{key}={value}" for key, value in merged.items()]
    process["cwd"] = cwd or base.get("cwd", "/")
    if user is not None:
        process["user"] = {"uid": user[0], "gid": user[1]}
    process.setdefault("user", {"uid": 0, "gid": 0})
    return process


def bundle_process(bundle: str) -> dict:
    """The `process` of the bundle's config.json ({} when it cannot be read)."""
    import json

    try:
        with open(os.path.join(bundle, "config.json"), "rb") as file:
            return json.load(file).get("process", {})
    except (OSError, ValueError):
        return {}


def error_lines(log_text: str) -> str:
    """The error-level lines of a JSON runtime log (warnings do not mean the exec failed)."""
    import json

    kept = []
    for line in log_text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal", "panic"):
            kept.append(line)
    return os.linesep.join(kept)


def process_json(bundle: str, argv: list[str]) -> str:
    """The process spec, as JSON, that `exec_output` runs `argv` with in this bundle's container."""
    import json

    return json.dumps(process_spec(bundle_process(bundle), argv, tty=False))


def exec_output(runtime_argv: list[str], bundle: str, container_id: str, process: str, argv: list[str],
                timeout: float, limit: int = 10240) -> tuple[int, str, str]:
    """Run `process` (from process_json, for `argv`) in the container with no terminal: (exit code,
    the start of its output, the runtime's own error lines — empty unless the runtime failed).
    `runtime_argv` is the runtime and its global options (path, --root). Raises ExecTimeout past
    `timeout`."""
    scratch = os.path.join(bundle, f"exec-{os.getpid()}")
    os.mkdir(scratch, 0o700)
    spec, log = os.path.join(scratch, "process.json"), os.path.join(scratch, "runtime.log")
    try:
        with open(spec, "w") as file:
            file.write(process)
        log_target = f"file:{log}" if os.path.basename(runtime_argv[0]).startswith("crun") else log
        command = [runtime_argv[0], "--log", log_target, "--log-format", "json", *runtime_argv[1:],
                   "exec", "--process", spec, container_id]
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ExecTimeout(f"command {argv!r} timed out after {timeout:g}s") from exc
        errors = ""
        if done.returncode != 0:
            try:
                with open(log, errors="replace") as file:
                    errors = error_lines(file.read())
            except OSError:
                pass
        return done.returncode, done.stdout[:limit].decode(errors="replace"), errors
    finally:
        for path in (spec, log):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(scratch)
        except OSError:
            pass  # the container was removed meanwhile, its bundle with it

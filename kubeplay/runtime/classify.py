"""Turn what runc, crun and conmon print on failure into typed kubeplay errors.

The runtimes speak three dialects on stderr: JSON log lines (``--log-format json``), logrus text lines
(``time=... level=error msg="..."``) and bare text (crun without a log file, conmon). All are reduced
to their messages first; the last meaningful one is matched against known failure shapes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from kubeplay.errors import RuntimeFailure, UserError


class ExecutableNotFound(RuntimeFailure, UserError):
    """The container's command is not in its image: the manifest, not the engine, must change."""

    exit_code = 1


class ExecPermissionDenied(RuntimeFailure, UserError):
    """The container's command exists but cannot be executed (a directory, no x bit, wrong format)."""

    exit_code = 1


class ContainerExists(RuntimeFailure):
    """The runtime already holds a container with this id."""


class ContainerUnknown(RuntimeFailure):
    """The runtime does not know this container id."""


class CgroupUnsupported(RuntimeFailure):
    """The runtime cannot drive this host's cgroup layout."""


class RlimitDenied(RuntimeFailure):
    """A resource limit above the host's hard limit was asked for."""


class MountFailed(RuntimeFailure):
    """A mount in the container's spec could not be made."""


class RuntimePermissionDenied(RuntimeFailure):
    """The runtime was refused an operation by the kernel."""


_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_NOISE_LEVELS = {"debug", "info", "trace"}


def stderr_messages(stderr: str) -> list[str]:
    """The error-level messages in a runtime's stderr, in order, whatever its log format."""
    messages: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if str(entry.get("level", "error")) in _NOISE_LEVELS:
                    continue
                message = entry.get("msg") or entry.get("message")
                if message:
                    messages.append(str(message).strip())
                continue
        match = _LOGRUS_MSG.search(line)
        if match and "level=" in line:
            if re.search(r"level=(debug|info|trace)\b", line):
                continue
            messages.append(match.group(1).encode().decode("unicode_escape").strip())
            continue
        messages.append(line)
    return messages


def last_meaningful(stderr: str) -> str:
    """The line that best says what went wrong: the last error message, runtime prefixes dropped."""
    messages = stderr_messages(stderr)
    if not messages:
        return "no error output"
    return _strip_prefixes(messages[-1])


def _strip_prefixes(message: str) -> str:
    # "runc create failed: unable to start container process: exec: ..." -> the useful tail stays,
    # but the boilerplate at the front adds nothing for a user.
    for prefix in ("runc run failed: ", "runc create failed: ", "runc exec failed: ", "exec failed: ",
                   "unable to start container process: ", "error during container init: ", "crun: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


@dataclass(frozen=True)
class FailureContext:
    """What the caller was doing, so errors can name the container and the runtime."""

    runtime: str
    action: str
    container: str | None = None


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], FailureContext, str], RuntimeFailure]]


def _subject(ctx: FailureContext) -> str:
    return f'container "{ctx.container}"' if ctx.container else ctx.runtime


def _executable_missing(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    executable = match.group("exe")
    return ExecutableNotFound(
        f'{_subject(ctx)}: executable "{executable}" not found in the image',
        hint="fix the container's command/args (or the image's entrypoint) to name a program the image contains",
    )


def _exec_denied(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    executable = match.group("exe")
    return ExecPermissionDenied(
        f'{_subject(ctx)}: executable "{executable}" cannot be run: {line}',
        hint="point command/args at an executable file built for this machine",
    )


def _exists(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    return ContainerExists(
        f"{_subject(ctx)}: {ctx.runtime} {ctx.action}: a container with this id already exists",
        hint="remove the stale runtime state (kubeplay down, or `runtime delete --force ID`) and retry",
    )


def _unknown(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    return ContainerUnknown(
        f"{_subject(ctx)}: {ctx.runtime} {ctx.action}: the runtime does not know this container",
        hint="the container is gone; its pod may need to be removed and played again",
    )


def _cgroups(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    return CgroupUnsupported(
        f"{_subject(ctx)}: {ctx.runtime} cannot use this host's cgroups: {line}",
        hint="use another runtime (--runtime NAME), or boot with a pure cgroup v2 or v1 hierarchy; "
             "`kubeplay system check` shows which runtime works here",
    )


def _rlimit(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    return RlimitDenied(
        f"{_subject(ctx)}: {ctx.runtime} could not set a resource limit: {line}",
        hint="ask for no more than the host's hard limits (see `ulimit -H -a`), "
             "or raise them where kubeplay is started",
    )


def _mount(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    return MountFailed(
        f"{_subject(ctx)}: a mount failed: {line}",
        hint="check that every volume's host path exists and the filesystem type is supported",
    )


def _denied(match: re.Match[str], ctx: FailureContext, line: str) -> RuntimeFailure:
    return RuntimePermissionDenied(
        f"{_subject(ctx)}: {ctx.runtime} {ctx.action}: permission denied: {line}",
        hint="run kubeplay as root, or check `kubeplay system check` for what rootless mode lacks",
    )


@functools.cache
def _rules() -> list[_Rule]:
    """The (pattern, builder) pairs, compiled on the first failure: every play imports this module,
    few ever fail."""
    return [
        # runc: exec: "x": executable file not found in $PATH
        (re.compile(r'exec: "(?P<exe>[^"]*)": executable file not found'), _executable_missing),
        # runc: exec: "/bin/x": stat /bin/x: no such file or directory
        (re.compile(r'exec: "(?P<exe>[^"]*)": stat [^:]*: no such file or directory'), _executable_missing),
        # crun: executable file `x` not found in $PATH: No such file or directory
        (re.compile(r"executable file `(?P<exe>[^`]*)` not found"), _executable_missing),
        # crun: open executable: ... / execvp `x`: No such file or directory
        (re.compile(r"exec(?:vp?e?)? `(?P<exe>[^`]*)`: No such file or directory", re.I), _executable_missing),
        (re.compile(r'exec: "(?P<exe>[^"]*)": (permission denied|exec format error)'), _exec_denied),
        (re.compile(r"exec(?:vp?e?)? `(?P<exe>[^`]*)`: (Permission denied|Exec format error)", re.I), _exec_denied),
        (re.compile(r"container with (given )?id (already )?exists|container `[^`]*` already exists", re.I),
         _exists),
        (re.compile(r"container does not exist|container `[^`]*` does not exist"
                    r"|error opening file `[^`]*/status`: No such file", re.I), _unknown),
        (re.compile(r"cgroups? in hybrid mode|cgroup.*not supported|cannot (?:enter|create) cgroup"
                    r"|failed to (?:write|create|apply) .*cgroup|cgroup.*(?:read-only|EROFS)", re.I), _cgroups),
        (re.compile(r"rlimit", re.I), _rlimit),
        (re.compile(r"error mounting|mount `[^`]*` to|mount .* failed|failed to mount", re.I), _mount),
        (re.compile(r"permission denied|operation not permitted", re.I), _denied),
    ]


def classify(stderr: str, ctx: FailureContext) -> RuntimeFailure:
    """The typed error for a runtime (or conmon) failure whose output is ``stderr``."""
    messages = [_strip_prefixes(m) for m in stderr_messages(stderr)]
    # The last message is usually the summary; earlier ones may carry the detail a rule needs.
    for message in reversed(messages):
        for pattern, build in _rules():
            match = pattern.search(message)
            if match:
                return build(match, ctx, message)
    line = messages[-1] if messages else "no error output"
    return RuntimeFailure(
        f"{_subject(ctx)}: {ctx.runtime} {ctx.action} failed: {line}",
        hint="re-run with --debug for details; `kubeplay system check` reports host problems",
    )

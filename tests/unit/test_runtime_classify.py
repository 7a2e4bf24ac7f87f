"""Runtime and conmon stderr, as really printed by runc 1.1 and crun 1.8, mapped to typed errors."""

from __future__ import annotations

import pytest

from kubeplay.errors import RuntimeFailure, UserError
from kubeplay.runtime.classify import (
    CgroupUnsupported,
    ContainerExists,
    ContainerUnknown,
    ExecPermissionDenied,
    ExecutableNotFound,
    FailureContext,
    MountFailed,
    RlimitDenied,
    RuntimePermissionDenied,
    classify,
    last_meaningful,
    stderr_messages,
)

CTX = FailureContext(runtime="runc", action="create", container="web")

CASES = [
    ('{"level":"error","msg":"runc run failed: unable to start container process: exec: \\"nosuch\\": '
     'executable file not found in $PATH","time":"2026-11-28T02:19:24Z"}', ExecutableNotFound, "nosuch"),
    ('{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"/bin/nosuch\\": '
     'stat /bin/nosuch: no such file or directory","time":"2026-11-28T02:19:24Z"}', ExecutableNotFound, "/bin/nosuch"),
    ("crun: executable file `sleepy` not found in $PATH: No such file or directory", ExecutableNotFound, "sleepy"),
    ('{"level":"error","msg":"exec failed: unable to start container process: exec: \\"nope\\": executable '
     'file not found in $PATH","time":"2026-11-28T02:20:27Z"}', ExecutableNotFound, "nope"),
    ('{"level":"error","msg":"runc run failed: unable to start container process: exec: \\"/proc\\": '
     'permission denied","time":"2026-11-28T02:19:24Z"}', ExecPermissionDenied, "/proc"),
    ('{"level":"error","msg":"runc run failed: unable to start container process: error during container init: '
     'error setting rlimits for ready process: error setting rlimit type 7: operation not permitted",'
     '"time":"2026-11-28T02:19:24Z"}', RlimitDenied, "rlimit type 7"),
    ("setrlimit `RLIMIT_NOFILE`: Operation not permitted", RlimitDenied, "RLIMIT_NOFILE"),
    ('{"msg":"cgroups in hybrid mode not supported, drop all controllers from cgroupv2","level":"error",'
     '"time":"2026-11-28T02:19:17.158021Z"}', CgroupUnsupported, "hybrid mode"),
    ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2", CgroupUnsupported, "hybrid"),
    ('{"level":"error","msg":"runc run failed: unable to start container process: error during container init: '
     'error mounting \\"x\\" to rootfs at \\"/proc\\": statfs x: no such file or directory",'
     '"time":"2026-11-28T02:19:27Z"}', MountFailed, "/proc"),
    ("mount `/data` to `/srv`: Operation not permitted", MountFailed, "/srv"),
    ('{"level":"error","msg":"runc create failed: container with given ID already exists",'
     '"time":"2026-11-28T02:19:27Z"}', ContainerExists, "already exists"),
    ('time="2026-11-28T02:19:27Z" level=error msg="container with id exists: web"', ContainerExists, "already"),
    ('{"level":"error","msg":"container does not exist","time":"2026-11-28T02:19:27Z"}', ContainerUnknown, "does not"),
    ("error opening file `/run/crun/web/status`: No such file or directory", ContainerUnknown, "does not"),
    ('time="2026-11-28T02:19:27Z" level=error msg="open /sys/fs/bpf: permission denied"',
     RuntimePermissionDenied, "permission denied"),
]


@pytest.mark.parametrize(("stderr", "expected", "needle"), CASES)
def test_classify_maps_real_runtime_output(stderr: str, expected: type, needle: str) -> None:
    error = classify(stderr, CTX)
    assert type(error) is expected
    assert isinstance(error, RuntimeFailure)
    assert needle in error.message
    assert error.hint


def test_missing_executable_reads_like_a_user_error() -> None:
    error = classify('exec: "nosuch": executable file not found in $PATH', CTX)
    assert error.message == 'container "web": executable "nosuch" not found in the image'
    assert isinstance(error, UserError)
    assert error.exit_code == 1


def test_unknown_output_falls_back_to_the_last_meaningful_line() -> None:
    stderr = ('{"level":"warning","msg":"something odd","time":"t"}\n'
              '{"level":"debug","msg":"noise","time":"t"}\n'
              '{"level":"error","msg":"runc create failed: the moon is in the wrong phase","time":"t"}\n')
    error = classify(stderr, CTX)
    assert type(error) is RuntimeFailure
    assert error.exit_code == 125
    assert error.message == 'container "web": runc create failed: the moon is in the wrong phase'


def test_empty_output_still_names_the_container_and_action() -> None:
    error = classify("", CTX)
    assert "web" in error.message and "create" in error.message


def test_messages_from_all_three_dialects() -> None:
    stderr = ('{"level":"error","msg":"json one"}\n'
              'time="x" level=error msg="logrus \\"two\\""\n'
              'time="x" level=debug msg="skipped"\n'
              'plain three\n')
    assert stderr_messages(stderr) == ["json one", 'logrus "two"', "plain three"]


def test_last_meaningful_drops_runtime_boilerplate() -> None:
    line = ('{"level":"error","msg":"runc run failed: unable to start container process: '
            'error during container init: boom"}')
    assert last_meaningful(line) == "boom"

"""conmon's argv from a ConmonSpec, and the sync-pipe protocol parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import RuntimeFailure
from kubeplay.runtime.conmon import ConmonSpec, conmon_argv, parse_sync_message, read_exit_code


def spec(**overrides) -> ConmonSpec:
    base = dict(
        container_id="abc123", name="web", bundle=Path("/b"), runtime_path="/usr/sbin/runc",
        runtime_root=Path("/rr/runc"), pidfile=Path("/b/pid"), conmon_pidfile=Path("/b/conmon.pid"),
        exit_dir=Path("/rr/exits"), persist_dir=Path("/b/persist"), log_path=Path("/b/ctr.log"),
        socket_dir=Path("/rr/socket"), conmon_path="/usr/bin/conmon",
    )
    base.update(overrides)
    return ConmonSpec(**base)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_required_options_are_present() -> None:
    argv = conmon_argv(spec())
    assert argv[0] == "/usr/bin/conmon"
    assert option(argv, "--api-version") == "1"
    assert option(argv, "--cid") == "abc123"
    assert option(argv, "--cuuid") == "abc123"
    assert option(argv, "--name") == "web"
    assert option(argv, "--runtime") == "/usr/sbin/runc"
    assert option(argv, "--bundle") == "/b"
    assert option(argv, "--container-pidfile") == "/b/pid"
    assert option(argv, "--conmon-pidfile") == "/b/conmon.pid"
    assert option(argv, "--exit-dir") == "/rr/exits"
    assert option(argv, "--persist-dir") == "/b/persist"
    assert option(argv, "--socket-dir-path") == "/rr/socket"
    assert option(argv, "--log-path") == "k8s-file:/b/ctr.log"
    assert option(argv, "--log-level") == "error"
    assert "--runtime-arg=--root=/rr/runc" in argv
    assert "--runtime-arg=--log-format=json" in argv


def test_defaults_leave_optional_behaviour_off() -> None:
    argv = conmon_argv(spec())
    for flag in ("--sync", "--terminal", "--stdin", "--syslog", "--exit-command", "--exit-delay", "--log-size-max"):
        assert flag not in argv


def test_flags_follow_the_spec() -> None:
    argv = conmon_argv(spec(sync=True, terminal=True, stdin=True, log_size_max=1048576))
    assert {"--sync", "--terminal", "--stdin"} <= set(argv)
    assert option(argv, "--log-size-max") == "1048576"


def test_exit_command_arguments_survive_leading_dashes() -> None:
    command = ("/usr/bin/python3", "-m", "kubeplay", "--root", "/r", "--runroot", "/rr", "container-exited", "abc123")
    argv = conmon_argv(spec(exit_command=command, exit_delay=2))
    assert option(argv, "--exit-command") == "/usr/bin/python3"
    # glib would read a separate "--root" as an option of its own: each arg travels as --exit-command-arg=VALUE
    args = [item.split("=", 1)[1] for item in argv if item.startswith("--exit-command-arg=")]
    assert args == list(command[1:])
    assert option(argv, "--exit-delay") == "2"


def test_runtime_args_are_passed_through() -> None:
    argv = conmon_argv(spec(runtime_args=("--systemd-cgroup",)))
    assert "--runtime-arg=--systemd-cgroup" in argv


@pytest.mark.parametrize(("line", "expected"), [
    ('{"data": 4242}', (4242, None)),
    ('{"pid": 17}', (17, None)),
    ('{"data": -1, "message": "exec: \\"x\\": executable file not found in $PATH"}',
     (-1, 'exec: "x": executable file not found in $PATH')),
])
def test_sync_messages(line: str, expected: tuple) -> None:
    assert parse_sync_message(line) == expected


@pytest.mark.parametrize("line", ["not json", '{"message": "no data"}'])
def test_bad_sync_messages_raise(line: str) -> None:
    with pytest.raises(RuntimeFailure):
        parse_sync_message(line)


def test_read_exit_code(tmp_path: Path) -> None:
    assert read_exit_code(tmp_path, "abc") is None
    (tmp_path / "abc").write_text("3")
    assert read_exit_code(tmp_path, "abc") == 3
    (tmp_path / "abc").write_text("garbage")
    assert read_exit_code(tmp_path, "abc") is None

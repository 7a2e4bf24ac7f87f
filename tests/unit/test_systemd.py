"""systemd integration without systemd: the notify protocol over real AF_UNIX sockets, socket
activation's checks, the generated units (verified by systemd-analyze when it is installed, parsed
otherwise) and what `system check` says on a host without systemd as PID 1."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubeplay.errors import UserError
from kubeplay.generate.systemd import UnitOptions, escape_path, quote_arg, template_unit, unit_for_file
from kubeplay.model.plan import ContainerPlan, PodPlan, SourcePlan
from kubeplay.systemd.activation import SOCKET_ACTIVATION_ANNOTATION, activation_targets, plan_activation
from kubeplay.systemd.notify import Notifier, NotifyRelay, format_message, parse_message, socket_address
from kubeplay.system.systemd_host import systemd_unavailable_reason


def bound_datagram(path: Path | str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path if isinstance(path, bytes) else str(path))
    sock.settimeout(5)
    return sock


def test_messages_are_key_value_lines_and_a_value_stays_on_one_line() -> None:
    assert format_message(STATUS="2/3 pods ready", READY=1) == b"STATUS=2/3 pods ready\nREADY=1"
    assert format_message(STATUS="pulling\nimage") == b"STATUS=pulling image"
    assert parse_message(b"READY=1\nSTATUS=a=b\nnonsense\n") == {"READY": "1", "STATUS": "a=b"}


def test_an_at_sign_names_an_abstract_socket() -> None:
    assert socket_address("@kubeplay/test") == b"\0kubeplay/test"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"


def test_notifier_sends_to_a_path_socket(tmp_path: Path) -> None:
    with bound_datagram(tmp_path / "notify") as sock:
        notifier = Notifier(str(tmp_path / "notify"))
        notifier.status("pulling image busybox")
        notifier.ready(main_pid=4321, status="1/1 pods ready")
        notifier.stopping()
        received = [parse_message(sock.recv(4096)) for _ in range(3)]
    assert received == [{"STATUS": "pulling image busybox"},
                        {"MAINPID": "4321", "READY": "1", "STATUS": "1/1 pods ready"},
                        {"STOPPING": "1"}]


def test_notifier_sends_to_an_abstract_socket() -> None:
    name = f"kubeplay-test-{os.getpid()}"
    with bound_datagram(b"\0" + name.encode()) as sock:
        Notifier("@" + name).status("hello")
        assert sock.recv(4096) == b"STATUS=hello"


def test_a_socket_pointing_nowhere_is_said_once_and_then_left_alone(tmp_path: Path) -> None:
    warnings: list[str] = []
    notifier = Notifier(str(tmp_path / "missing"), warnings.append)
    notifier.status("one")
    notifier.ready()
    assert len(warnings) == 1 and "cannot be reached" in warnings[0] and "NOTIFY_SOCKET" in warnings[0]
    assert not notifier.active


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier("")
    assert not notifier.active and notifier.notify(READY=1) is False


def test_the_relay_remembers_ready_and_the_last_status(tmp_path: Path) -> None:
    relay = NotifyRelay(tmp_path / "notify")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as container:
            container.sendto(b"STATUS=warming up", str(relay.path))
            container.sendto(b"READY=1\nSTATUS=serving", str(relay.path))
        assert [m for m in relay.receive()] == [{"STATUS": "warming up"}, {"READY": "1", "STATUS": "serving"}]
        assert relay.ready and relay.status == "serving"
        assert oct(relay.path.stat().st_mode & 0o777) == oct(0o777)  # any user in the container may send
    finally:
        relay.close()
    assert not relay.path.exists()


def pod(name: str = "web", annotations: dict | None = None, share_pid: bool = False) -> PodPlan:
    return PodPlan(name=name, annotations=annotations or {}, share_process_namespace=share_pid,
                   containers=(ContainerPlan(name="server", image="busybox"), ContainerPlan(name="log", image="busybox")),
                   source=SourcePlan(file="app.yaml"))


def test_the_annotation_names_the_container_that_gets_the_sockets() -> None:
    plans = [pod(annotations={SOCKET_ACTIVATION_ANNOTATION: "server"}), pod("other")]
    assert activation_targets(plans) == [("web", "server")]
    activation = plan_activation(plans, 2)
    assert (activation.pod, activation.container, activation.fds) == ("web", "server", (3, 4))
    assert plan_activation(plans, 0) is None  # played by hand: the annotation is no error


def test_an_annotation_naming_no_container_is_refused_with_the_file_and_the_names() -> None:
    with pytest.raises(UserError) as raised:
        activation_targets([pod(annotations={SOCKET_ACTIVATION_ANNOTATION: "nginx"})])
    assert "app.yaml" in raised.value.message and '"nginx"' in raised.value.message
    assert "server, log" in raised.value.hint


def test_sockets_with_no_pod_or_many_pods_to_take_them_are_refused() -> None:
    with pytest.raises(UserError, match="no pod names a container"):
        plan_activation([pod()], 1)
    annotated = {SOCKET_ACTIVATION_ANNOTATION: "server"}
    with pytest.raises(UserError, match="one container, but 2 pods"):
        plan_activation([pod("a", annotated), pod("b", annotated)], 1)
    with pytest.raises(UserError, match="shareProcessNamespace"):
        activation_targets([pod(annotations=annotated, share_pid=True)])


INHERITED = """
import os, socket
from kubeplay.systemd.activation import inherited_socket_count
print(inherited_socket_count(), "LISTEN_FDS" in os.environ, "LISTEN_PID" in os.environ)
"""


def test_inherited_sockets_are_counted_for_this_process_only_and_the_variables_removed() -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    # as a service manager does: the socket moved to fd 3, LISTEN_PID set to the pid that then execs kubeplay
    handoff = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
               "os.execve(sys.executable, [sys.executable, '-c', sys.argv[2]], "
               "dict(os.environ, LISTEN_FDS='1', LISTEN_PID=str(os.getpid())))")
    with listening:
        done = subprocess.run([sys.executable, "-c", handoff, str(listening.fileno()), INHERITED],
                              pass_fds=(listening.fileno(),), capture_output=True, text=True, timeout=60)
        other = subprocess.run([sys.executable, "-c", INHERITED], env=dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1"),
                               capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["1", "False", "False"], done.stderr
    assert other.stdout.split() == ["0", "False", "False"], other.stderr  # meant for another process


OPTIONS = UnitOptions(kubeplay="/usr/local/bin/kubeplay")


def parse_unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_the_unit_plays_the_file_as_a_notify_service() -> None:
    unit = parse_unit(unit_for_file("/srv/app.yaml", OPTIONS))
    service = unit["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "all"
    assert service["ExecStart"] == "/usr/local/bin/kubeplay play --replace --service --timeout 15m /srv/app.yaml"
    assert service["ExecStop"] == "/usr/local/bin/kubeplay down /srv/app.yaml"
    assert service["Restart"] == "on-failure"
    assert service["TimeoutStartSec"] == "30min"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_template_takes_the_file_from_the_instance_name() -> None:
    service = parse_unit(template_unit(OPTIONS))["Service"]
    assert service["ExecStart"].endswith(' "%I"') and service["ExecStop"].endswith(' down "%I"')


def test_paths_are_quoted_and_specifiers_escaped() -> None:
    assert quote_arg("/srv/my app/50%/$HOME.yaml") == '"/srv/my app/50%%/$$HOME.yaml"'
    assert quote_arg("/plain.yaml") == "/plain.yaml"
    options = UnitOptions(kubeplay="/opt/kp/bin/kubeplay", global_args=("--root", "/data/kube play"))
    line = parse_unit(unit_for_file("/srv/a.yaml", options))["Service"]["ExecStart"]
    assert line.startswith('/opt/kp/bin/kubeplay --root "/data/kube play" play ')


@pytest.mark.parametrize("path", ["/srv/app.yaml", "/srv/my app/x-y.yaml", "/home/me/.apps/web_1.yml"])
def test_instance_names_are_escaped_as_systemd_escape_does(path: str) -> None:
    if shutil.which("systemd-escape") is None:
        pytest.skip("systemd-escape is not installed")
    expected = subprocess.run(["systemd-escape", "--path", path], capture_output=True, text=True, timeout=30).stdout
    assert escape_path(path) == expected.strip()


def verify(unit: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          cwd=unit.parent)


def test_generated_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package); the parsing tests cover the text")
    kubeplay = tmp_path / "kubeplay"
    kubeplay.write_text("#!/bin/sh\n")
    kubeplay.chmod(0o755)  # verify checks that the command exists and is executable
    options = UnitOptions(kubeplay=str(kubeplay))
    manifest = tmp_path / "my app.yaml"
    manifest.write_text("")
    single = tmp_path / "kubeplay-app.service"
    single.write_text(unit_for_file(str(manifest), options))
    template = tmp_path / "kubeplay-kube@.service"
    template.write_text(template_unit(options))
    instance = tmp_path / f"kubeplay-kube@{escape_path(str(manifest))}.service"
    instance.symlink_to(template.name)
    for unit in (single, instance):
        done = verify(unit)
        assert done.returncode == 0 and "ignoring" not in done.stderr, done.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(unit_for_file(str(manifest), options).replace("Type=notify", "Type=notifi"))
    assert "Failed to parse service type" in verify(broken).stderr  # the verification can fail


def test_generate_systemd_on_the_command_line_and_generate_pods_unchanged(tmp_path: Path) -> None:
    from kubeplay.cli.lazy import cli

    manifest = tmp_path / "app.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\n")
    base = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")]
    done = CliRunner().invoke(cli, [*base, "generate", "systemd", str(manifest)])
    assert done.exit_code == 0, done.output
    exec_start = parse_unit(done.output)["Service"]["ExecStart"]
    assert f"--root {tmp_path / 'root'} --runroot {tmp_path / 'run'} play --replace --service" in exec_start
    assert exec_start.endswith(str(manifest))
    refused = CliRunner().invoke(cli, [*base, "generate", "systemd"])
    assert refused.exit_code != 0 and "--template" in str(refused.exception)
    pods_help = CliRunner().invoke(cli, [*base, "generate", "--type", "deployment", "--help"])
    assert "Kubernetes YAML of the pods NAMES" in pods_help.output


def test_system_check_says_why_systemd_integration_is_unavailable(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "comm").write_text("tini\n")
    reason = systemd_unavailable_reason(tmp_path / "run-systemd-system", proc)
    assert reason is not None and "systemd is not PID 1" in reason and "tini" in reason
    (tmp_path / "run-systemd-system").mkdir()
    assert systemd_unavailable_reason(tmp_path / "run-systemd-system", proc) is None


def test_conmon_replaces_listen_pid_only_for_the_container_with_sockets() -> None:
    from kubeplay.runtime.conmon import ConmonSpec, conmon_argv

    def argv(listen_fds: int) -> list[str]:
        return conmon_argv(ConmonSpec(
            container_id="abc", name="web", bundle=Path("/b"), runtime_path="/usr/sbin/runc",
            runtime_root=Path("/rr"), pidfile=Path("/b/pid"), conmon_pidfile=Path("/b/cpid"),
            exit_dir=Path("/rr/exits"), persist_dir=Path("/b/p"), log_path=Path("/b/log"),
            socket_dir=Path("/rr/s"), conmon_path="/usr/bin/conmon", listen_fds=listen_fds))

    assert "--replace-listen-pid" in argv(2)
    assert "--replace-listen-pid" not in argv(0)


def test_the_runtime_never_sees_the_service_managers_variables() -> None:
    script = ("import os; os.environ.update(NOTIFY_SOCKET='/x', LISTEN_FDS='1', LISTEN_PID='1', KEEP='1'); "
              "from kubeplay.runtime.conmon import runtime_environment; "
              "print(sorted(k for k in runtime_environment() if k in ('NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'KEEP')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['KEEP']", done.stderr

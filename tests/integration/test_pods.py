"""Pods on the real runtime: infra + members under conmon, init containers, restarts, logs, exec, down."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import BUSYBOX, ENTRYPOINT, conmon_pids_for
from tests.support.cli import process_command_lines

pytestmark = pytest.mark.root


def sh(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script], **extra}


def test_two_containers_share_localhost_ipc_and_hostname(pods):
    manifest = pods.write("web.yaml", pods.pod(
        "web",
        sh("server", "mkdir /www && echo served-page > /www/index.html && exec httpd -f -p 8080 -h /www"),
        sh("client", "for i in $(seq 1 50); do "
                     "wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.2; done; hostname; sleep 3600"),
    ))
    result = pods("play", str(manifest))
    assert result.returncode == 0, result.stderr
    logs = pods.wait_for(lambda: "served-page" in (text := pods.logs("web", "client")) and text, what="page fetched")
    assert "web" in logs.split()  # hostname is the pod name
    namespaces = {}
    for container in ("server", "client"):
        shown = pods("exec", "web", "-c", container, "--", "sh", "-c",
                     "readlink /proc/self/ns/ipc; readlink /proc/self/ns/net")
        assert shown.returncode == 0, shown.stderr
        namespaces[container] = shown.stdout.split()
    assert namespaces["server"] == namespaces["client"]  # one IPC and one network namespace for the pod
    assert namespaces["server"][0] != os.readlink("/proc/self/ns/ipc")


def test_command_and_args_against_entrypoint_and_cmd(pods, rootfs_tar):
    pods.import_image(rootfs_tar, ENTRYPOINT, 'ENTRYPOINT ["/bin/echo", "from-entrypoint"]', 'CMD ["default-cmd"]')
    base = {"image": ENTRYPOINT, "imagePullPolicy": "Never"}
    manifest = pods.write("ep.yaml", pods.pod(
        "ep",
        {"name": "image-default", **base},
        {"name": "args-only", "args": ["from-args"], **base},
        {"name": "command-only", "command": ["/bin/echo", "from-command"], **base},
        {"name": "both", "command": ["/bin/echo"], "args": ["cmd-and-args"], **base},
        restartPolicy="Never",
    ))
    assert pods("play", str(manifest)).returncode == 0
    expected = {"image-default": "from-entrypoint default-cmd", "args-only": "from-entrypoint from-args",
                "command-only": "from-command", "both": "cmd-and-args"}
    for name, text in expected.items():
        pods.exited("ep", name)
        assert pods.logs("ep", name).strip() == text


def test_env_working_dir_user_and_read_only_rootfs(pods):
    manifest = pods.write("env.yaml", pods.pod(
        "env",
        sh("probe", 'echo "A=$A B=$B"; pwd; id -u; id -g; touch /x 2>/dev/null && echo writable || echo read-only; '
                    'touch /tmp/ok 2>/dev/null || echo tmp-read-only',
           env=[{"name": "A", "value": "one"}, {"name": "B", "value": "$(A)-two"}],
           workingDir="/tmp",
           securityContext={"runAsUser": 1000, "runAsGroup": 1000, "readOnlyRootFilesystem": True}),
        restartPolicy="Never",
    ))
    assert pods("play", str(manifest)).returncode == 0
    assert pods.exited("env", "probe")["exitCode"] == 0
    lines = pods.logs("env", "probe").split("\n")
    assert lines[0] == "A=one B=one-two"
    assert lines[1] == "/tmp"
    assert lines[2:4] == ["1000", "1000"]
    assert lines[4] == "read-only"


def test_memory_limit_is_in_the_container_cgroup(pods):
    manifest = pods.write("mem.yaml", pods.pod(
        "mem",
        sh("limited", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
           resources={"limits": {"memory": "64Mi"}}),
        restartPolicy="Never",
    ))
    assert pods("play", str(manifest)).returncode == 0
    pods.exited("mem", "limited")
    assert pods.logs("mem", "limited").strip() == str(64 * 1024 * 1024)


def test_init_containers_run_in_order_before_members(pods):
    mount = [{"name": "work", "mountPath": "/work"}]
    manifest = pods.write("init.yaml", pods.pod(
        "init",
        sh("main", "cat /work/order", volumeMounts=mount),
        initContainers=[sh("first", "sleep 0.5; echo first >> /work/order", volumeMounts=mount),
                        sh("second", "echo second >> /work/order", volumeMounts=mount)],
        volumes=[{"name": "work", "emptyDir": {}}],
        restartPolicy="Never",
    ))
    assert pods("play", str(manifest)).returncode == 0
    pods.exited("init", "main")
    assert pods.logs("init", "main").split() == ["first", "second"]


def test_failing_init_container_fails_the_pod_and_says_which(pods):
    manifest = pods.write("badinit.yaml", pods.pod(
        "badinit", sh("main", "echo never"),
        initContainers=[sh("setup", "echo broken; exit 7")], restartPolicy="Never"))
    result = pods("play", str(manifest))
    assert result.returncode == 1
    assert "setup" in result.stderr and "7" in result.stderr
    assert pods.container("badinit", "setup")["exitCode"] == 7
    assert pods.inspect("badinit")["status"] == "Init:Error"


def test_restart_policy_never_reports_exit_code(pods):
    manifest = pods.write("never.yaml", pods.pod("never", sh("fail", "exit 3"), restartPolicy="Never"))
    assert pods("play", str(manifest)).returncode == 0
    state = pods.exited("never", "fail")
    assert state["exitCode"] == 3
    assert state["restartCount"] == 0
    listed = pods("pods")
    assert "Error" in listed.stdout and "0/1" in listed.stdout


def test_on_failure_restarts_and_counts(pods):
    manifest = pods.write("onfail.yaml", pods.pod(
        "onfail", sh("flaky", "echo run; exit 1"), restartPolicy="OnFailure"))
    assert pods("play", str(manifest)).returncode == 0
    # the first restart is immediate; the second waits the 10 s back-off
    state = pods.wait_for(lambda: (c := pods.container("onfail", "flaky"))["restartCount"] >= 1 and c,
                          timeout=15, what="a restart")
    assert state["restartCount"] >= 1
    previous = pods("logs", "onfail", "--previous")
    assert previous.returncode == 0 and "run" in previous.stdout


def test_logs_follow_and_exec_exit_code(pods):
    manifest = pods.write("talk.yaml", pods.pod(
        "talk", sh("talker", "for i in 1 2 3; do echo line-$i; sleep 0.3; done; sleep 1"),
        # Never: with Always the exit restarts the container at once, and `logs` then reads the new,
        # still empty log, as kubectl would
        restartPolicy="Never"))
    assert pods("play", str(manifest)).returncode == 0
    assert pods("exec", "talk", "--", "sh", "-c", "exit 42").returncode == 42
    missing = pods("exec", "talk", "--", "no-such-command")
    assert missing.returncode == 127, missing.stderr  # as a shell, podman and docker
    assert 'container "talker" in pod "talk": command "no-such-command" not found' in missing.stderr
    directory = pods("exec", "talk", "--", "/etc")
    assert directory.returncode == 126 and 'command "/etc" cannot be run' in directory.stderr
    followed = pods("logs", "-f", "talk", timeout=30)
    assert followed.returncode == 0
    assert followed.stdout.split() == ["line-1", "line-2", "line-3"]
    assert pods("logs", "--tail", "1", "talk").stdout.strip() == "line-3"


def test_play_leaves_no_kubeplay_process_and_down_leaves_nothing(pods):
    manifest = pods.write("clean.yaml", pods.pod("clean", sh("a", "sleep 3600"), sh("b", "sleep 3600"),
                                                 terminationGracePeriodSeconds=1))
    assert pods("play", str(manifest)).returncode == 0
    mine = str(pods.kp.runroot)
    leftovers = process_command_lines()
    assert not [line for line in leftovers if "-m kubeplay" in line and mine in line and "conmon" not in line]
    assert len(conmon_pids_for(pods.kp.runroot)) == 3  # infra + two members
    pod_id = pods.inspect("clean")["id"]
    down = pods("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")
    pods.wait_for(lambda: not conmon_pids_for(pods.kp.runroot), timeout=10, what="conmon to end")
    assert not pods.kp.leftover_mounts()
    cgroups = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "4", "-name", f"*{pod_id}*"],
                             capture_output=True, text=True).stdout
    assert cgroups.strip() == ""


def test_wiped_run_root_reads_as_stopped_and_down_cleans(pods):
    manifest = pods.write("reboot.yaml", pods.pod("reboot", sh("a", "sleep 3600"), terminationGracePeriodSeconds=0))
    assert pods("play", str(manifest)).returncode == 0
    assert pods.container("reboot", "a")["state"] == "running"
    (pods.kp.runroot / "session").unlink()  # what a reboot does to the run root's marker
    state = pods.container("reboot", "a")
    assert state["state"] == "exited"
    assert pods("down", str(manifest)).returncode == 0
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")


def test_bad_input_is_refused_cleanly(pods):
    missing_cmd = pods.write("nocmd.yaml", pods.pod("nocmd", {"name": "x", "image": BUSYBOX,
                                                              "imagePullPolicy": "Never",
                                                              "command": ["/no/such/binary"]}))
    result = pods("play", str(missing_cmd))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "/no/such/binary" in result.stderr
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")

    no_image = pods.write("noimage.yaml", pods.pod("noimage", {"name": "x", "image": "localhost/nothing:here",
                                                               "imagePullPolicy": "Never"}))
    result = pods("play", str(no_image))
    assert result.returncode == 1 and "localhost/nothing:here" in result.stderr and "Traceback" not in result.stderr

    # a registry that refuses the connection (a closed port on loopback): one error naming the image
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unpullable = f"127.0.0.1:{closed}/nothing:here"
    no_registry = pods.write("noregistry.yaml", pods.pod("noregistry", {"name": "x", "image": unpullable}))
    result = pods("play", str(no_registry))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f'image "{unpullable}" is not in the local store and pulling it failed' in result.stderr
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")

    twice = pods.write("twice.yaml", pods.pod("twice", sh("a", "sleep 3600"), terminationGracePeriodSeconds=0))
    assert pods("play", str(twice)).returncode == 0
    again = pods("play", str(twice))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert len(pods.inspect("twice")["containers"]) == 2  # the running pod is untouched


def test_logs_keep_a_last_line_without_newline(pods):
    manifest = pods.write("partial.yaml", pods.pod("partial", sh("a", "echo one; printf two"), restartPolicy="Never"))
    assert pods("play", str(manifest)).returncode == 0
    pods.exited("partial", "a")
    assert pods.logs("partial", "a").split() == ["one", "two"]


def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(pods):
    manifest = pods.write("grace.yaml", pods.pod(
        "grace",
        sh("polite", "trap 'echo got-term; exit 0' TERM; echo ready; sleep 3600 & wait"),
        sh("stubborn", "echo ready; sleep 3600"),
        terminationGracePeriodSeconds=2))
    assert pods("play", str(manifest)).returncode == 0
    pods.wait_for(lambda: "ready" in pods.logs("grace", "polite") and "ready" in pods.logs("grace", "stubborn"),
                  what="both containers to start")
    started = time.monotonic()
    assert pods("pod", "stop", "grace").returncode == 0
    took = time.monotonic() - started
    assert "got-term" in pods.logs("grace", "polite")
    assert pods.container("grace", "polite")["exitCode"] == 0
    assert pods.container("grace", "stubborn")["exitCode"] == 137  # killed once the grace period ran out
    assert 2 <= took < 15

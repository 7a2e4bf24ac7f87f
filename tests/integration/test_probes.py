"""Probes, readiness and lifecycle hooks on the real runtime, run by the per-pod monitor."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX
from tests.support import imagebuild
from tests.support.cli import process_command_lines, skip_inside_a_chroot

pytestmark = pytest.mark.root

HTTPD_ONLY = "localhost/test/httpd-only:latest"
MONITOR = "kubeplay.controllers.monitor"


def sh(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script], **extra}


def exec_action(*command: str) -> dict:
    return {"exec": {"command": list(command)}}


def monitor_pids(runroot: Path, pod_id: str = "") -> list[int]:
    """Probe monitors (not their short-lived children) of this test's run root."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        mine = any(MONITOR.encode() in arg for arg in argv) and str(runroot).encode() in argv
        if mine and pod_id.encode() in b" ".join(argv) and parent == "1":
            found.append(int(entry.name))
    return found


@pytest.fixture
def probes(pods):
    """The pods runner; afterwards everything is removed and no monitor may be left."""
    yield pods
    pods.remove_everything()
    assert monitor_pids(pods.kp.runroot) == [], "a monitor outlived its pod"


def play(pods, name: str, *documents: dict, args: tuple[str, ...] = ()) -> Path:
    manifest = pods.write(name, *documents)
    result = pods("play", *args, str(manifest))
    assert result.returncode == 0, result.stderr
    return manifest


def ready_column(pods, name: str) -> str:
    listed = pods("pods")
    assert listed.returncode == 0, listed.stderr
    return next(line.split()[1] for line in listed.stdout.splitlines()[1:] if line.split()[0] == name)


def events(pods, name: str) -> list[dict]:
    shown = pods("events", name, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def restarted(pods, pod: str, container: str, count: int = 1, timeout: float = 30) -> dict:
    return pods.wait_for(lambda: (c := pods.container(pod, container))["restartCount"] >= count
                         and c["state"] == "running" and c, timeout, f"{pod}/{container} to restart")


def import_httpd_only(pods) -> None:
    """An image holding busybox alone, no applet links: no shell, no wget; only its httpd is run."""
    tar = pods.kp.base / "httpd-only.tar"
    entries = [imagebuild.directory("bin"), imagebuild.file("bin/busybox", imagebuild.BUSYBOX.read_bytes(), 0o755),
               imagebuild.directory("tmp", 0o1777)]
    imagebuild.write_rootfs_tar(tar, entries)
    result = pods("image", "import", str(tar), HTTPD_ONLY, "--change",
                  'CMD ["/bin/busybox", "httpd", "-f", "-vv", "-p", "8080", "-h", "/www"]')
    assert result.returncode == 0, result.stderr


def test_http_liveness_on_an_image_without_a_shell_restarts_the_container(probes, tmp_path):
    import_httpd_only(probes)
    www = tmp_path / "www"
    www.mkdir()
    (www / "healthz").write_text("ok\n")
    play(probes, "http.yaml", probes.pod("http", {
        "name": "web", "image": HTTPD_ONLY, "imagePullPolicy": "Never",
        "ports": [{"name": "http", "containerPort": 8080}],
        "volumeMounts": [{"name": "www", "mountPath": "/www"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 2},
    }, volumes=[{"name": "www", "hostPath": {"path": str(www)}}]))
    assert probes.container("http", "web")["state"] == "running"
    probes.wait_for(lambda: any("healthz" in line for line in probes.logs("http").splitlines()), timeout=10,
                    what="a probe to reach the server")
    (www / "healthz").unlink()  # the path starts failing
    state = restarted(probes, "http", "web")
    (www / "healthz").write_text("ok\n")
    assert state["restartCount"] == 1
    previous = probes("logs", "--previous", "http")
    assert previous.returncode == 0 and "healthz" in previous.stdout
    messages = [e["message"] for e in events(probes, "http")]
    assert "Liveness probe failed: HTTP probe failed with statuscode: 404" in messages
    assert "Container web failed liveness probe, will be restarted" in messages


def test_exec_liveness_kill_runs_pre_stop_before_sigterm_then_restarts(probes, tmp_path):
    order = tmp_path / "order"
    order.mkdir()
    play(probes, "live.yaml", probes.pod("live", sh(
        "app", "echo instance-$RANDOM; touch /tmp/alive; trap 'echo term >> /order/log; exit 0' TERM; "
               "while true; do sleep 0.2; done",
        volumeMounts=[{"name": "order", "mountPath": "/order"}],
        livenessProbe={**exec_action("cat", "/tmp/alive"), "periodSeconds": 1, "failureThreshold": 1},
        lifecycle={"preStop": exec_action("sh", "-c", "echo prestop >> /order/log")},
    ), terminationGracePeriodSeconds=5, volumes=[{"name": "order", "hostPath": {"path": str(order)}}]))
    first = probes.logs("live").strip()
    assert probes("exec", "live", "--", "rm", "/tmp/alive").returncode == 0
    restarted(probes, "live", "app")
    assert (order / "log").read_text().split() == ["prestop", "term"]
    assert probes("logs", "--previous", "live").stdout.strip() == first
    shown = events(probes, "live")
    reasons = [e["reason"] for e in shown]
    assert "Unhealthy" in reasons and "Killing" in reasons
    assert reasons.index("Pulled") < reasons.index("Started")  # as the kubelet reports a pod's start
    assert any(e["message"] == f'Container image "{BUSYBOX}" already present on machine' for e in shown)


def test_readiness_flips_with_a_file_in_pods_inspect_and_conditions(probes):
    play(probes, "ready.yaml", probes.pod("ready", sh(
        "app", "sleep 3600", readinessProbe={**exec_action("test", "-f", "/tmp/ready"), "periodSeconds": 1}),
        sh("plain", "sleep 3600")))

    def seen(ready: bool):
        shown = probes.inspect("ready")
        app = next(c for c in shown["containers"] if c["name"] == "app")
        conditions = {c["type"]: c["status"] for c in shown["conditions"]}
        return (app["ready"] == ready and conditions["Ready"] == str(ready) and
                conditions["ContainersReady"] == str(ready) and shown)

    first = probes.wait_for(lambda: seen(False), timeout=5, what="not ready")
    assert ready_column(probes, "ready") == "1/2"  # plain has no readiness probe: ready while it runs
    assert probes("exec", "ready", "-c", "app", "--", "touch", "/tmp/ready").returncode == 0
    became = probes.wait_for(lambda: seen(True), timeout=10, what="ready")
    assert ready_column(probes, "ready") == "2/2"
    when = {c["type"]: c["lastTransitionTime"] for c in became["conditions"]}
    assert when["Ready"] >= {c["type"]: c["lastTransitionTime"] for c in first["conditions"]}["Ready"]
    assert probes("exec", "ready", "-c", "app", "--", "rm", "/tmp/ready").returncode == 0
    probes.wait_for(lambda: seen(False), timeout=10, what="not ready again")
    assert ready_column(probes, "ready") == "1/2"
    assert probes.container("ready", "app")["restartCount"] == 0  # readiness never kills


def test_a_startup_probe_holds_liveness_off_until_it_passes(probes):
    play(probes, "slow.yaml", probes.pod("slow", sh(
        "app", "sleep 3600",
        startupProbe={**exec_action("test", "-f", "/tmp/started"), "periodSeconds": 1, "failureThreshold": 60},
        # would kill at its first run: it must not run before the startup probe passes
        livenessProbe={**exec_action("test", "-f", "/tmp/started"), "periodSeconds": 1, "failureThreshold": 1},
    )))
    probes.wait_for(lambda: any(e["message"].startswith("Startup probe failed") for e in events(probes, "slow")),
                    timeout=10, what="the startup probe to fail once")
    probes.wait_for(lambda: any(e["count"] >= 3 for e in events(probes, "slow")), timeout=10, what="more failures")
    app = probes.container("slow", "app")
    assert app["restartCount"] == 0 and not app["ready"]
    assert probes("exec", "slow", "--", "touch", "/tmp/started").returncode == 0
    probes.wait_for(lambda: probes.container("slow", "app")["ready"], timeout=10, what="started and ready")
    assert probes.container("slow", "app")["restartCount"] == 0
    assert not any(e["message"].startswith("Liveness") for e in events(probes, "slow"))


def test_tcp_socket_readiness_waits_for_the_listener(probes):
    play(probes, "tcp.yaml", probes.pod("tcp", sh(
        "app", "mkdir /www; while [ ! -f /tmp/go ]; do sleep 0.2; done; exec httpd -f -p 8080 -h /www",
        readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1})))
    probes.wait_for(lambda: any("dial tcp" in e["message"] and "connection refused" in e["message"]
                                for e in events(probes, "tcp")), timeout=10, what="a refused connection")
    assert ready_column(probes, "tcp") == "0/1"
    assert probes("exec", "tcp", "--", "touch", "/tmp/go").returncode == 0
    probes.wait_for(lambda: ready_column(probes, "tcp") == "1/1", timeout=10, what="ready once listening")


def test_a_probe_that_outlives_its_timeout_fails(probes):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    play(probes, "slowprobe.yaml", probes.pod("slowprobe", sh(
        "app", "sleep 3600",
        readinessProbe={**exec_action("sleep", "5"), "periodSeconds": 1, "timeoutSeconds": 1})))
    failure = probes.wait_for(lambda: next((e for e in events(probes, "slowprobe") if e["reason"] == "Unhealthy"),
                                           None), timeout=15, what="a timed-out probe")
    assert "timed out" in failure["message"]
    assert not probes.container("slowprobe", "app")["ready"]


def test_post_start_writes_a_file_the_main_process_reads(probes):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    play(probes, "hook.yaml", probes.pod("hook", sh(
        "app", "while [ ! -f /tmp/hooked ]; do sleep 0.1; done; cat /tmp/hooked; sleep 3600",
        lifecycle={"postStart": exec_action("sh", "-c", "echo written-by-post-start > /tmp/hooked")})))
    probes.wait_for(lambda: "written-by-post-start" in probes.logs("hook"), timeout=10, what="the hook's file")
    probes.wait_for(lambda: probes.container("hook", "app")["ready"], timeout=10, what="ready after the hook")


def test_a_failing_post_start_kills_the_container_and_says_why(probes):
    play(probes, "badhook.yaml", probes.pod("badhook", sh(
        "app", "sleep 3600",
        lifecycle={"postStart": exec_action("sh", "-c", "echo hook-broke; exit 3")}), restartPolicy="Never"))
    probes.exited("badhook", "app", timeout=20)
    failed = probes.wait_for(lambda: next((e for e in events(probes, "badhook")
                                           if e["reason"] == "FailedPostStartHook"), None), timeout=10,
                             what="the hook's event")
    assert "hook-broke" in failed["message"] and 'Container "app"' in failed["message"]
    assert probes.container("badhook", "app")["restartCount"] == 0  # restartPolicy Never


def test_pre_stop_runs_before_sigterm_on_down(probes, tmp_path):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    order = tmp_path / "order"
    order.mkdir()
    manifest = play(probes, "stop.yaml", probes.pod("stop", sh(
        "app", "trap 'echo term >> /order/log; exit 0' TERM; while true; do sleep 0.2; done",
        volumeMounts=[{"name": "order", "mountPath": "/order"}],
        lifecycle={"preStop": exec_action("sh", "-c", "sleep 1; echo prestop >> /order/log")},
    ), terminationGracePeriodSeconds=10, volumes=[{"name": "order", "hostPath": {"path": str(order)}}]))
    assert probes("down", str(manifest)).returncode == 0
    assert (order / "log").read_text().split() == ["prestop", "term"]


def test_play_wait_returns_once_ready_and_times_out_naming_the_container(probes):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    ready = probes.write("soon.yaml", probes.pod("soon", sh(
        "app", "sleep 1; touch /tmp/ready; sleep 3600",
        readinessProbe={**exec_action("test", "-f", "/tmp/ready"), "periodSeconds": 1})))
    done = probes("play", "--wait", "--timeout", "30s", str(ready))
    assert done.returncode == 0, done.stderr
    assert ready_column(probes, "soon") == "1/1"
    never = probes.write("never.yaml", probes.pod("never", sh(
        "app", "sleep 3600", readinessProbe={**exec_action("cat", "/tmp/nothing-here"), "periodSeconds": 1})))
    timed_out = probes("play", "--wait", "--timeout", "3s", str(never))
    assert timed_out.returncode == 1
    assert "timed out after 3s" in timed_out.stderr
    assert "pod never: container app is not ready: Readiness probe failed: cat: can't open" in timed_out.stderr
    assert probes("wait", "soon", "--timeout", "10s").returncode == 0
    assert probes("wait", "never", "--timeout", "1s").returncode == 1
    assert probes("down", str(never)).returncode == 0
    assert probes("wait", "never", "--for", "delete", "--timeout", "5s").returncode == 0


def test_a_killed_monitor_leaves_pods_running_is_reported_and_comes_back(probes):
    play(probes, "watched.yaml", probes.pod("watched", sh(
        "app", "touch /tmp/ready; sleep 3600",
        readinessProbe={**exec_action("test", "-f", "/tmp/ready"), "periodSeconds": 1},
        livenessProbe={**exec_action("true"), "periodSeconds": 1})))
    pod_id = probes.inspect("watched")["id"]
    [monitor] = monitor_pids(probes.kp.runroot, pod_id)
    os.kill(monitor, signal.SIGKILL)
    probes.wait_for(lambda: not monitor_pids(probes.kp.runroot, pod_id) or None, timeout=5, what="the monitor gone")
    listed = probes("pods")
    assert "watched" in listed.stdout and "its probes are not being run" in listed.stderr
    shown = probes.inspect("watched")
    assert shown["probeMonitor"] == "not running (started again)"
    assert next(c for c in shown["containers"] if c["name"] == "app")["state"] == "running"
    [again] = monitor_pids(probes.kp.runroot, pod_id)
    assert again != monitor
    assert probes.inspect("watched")["probeMonitor"] == "running"
    assert "not being run" not in probes("pods").stderr
    assert probes.container("watched", "app")["restartCount"] == 0


def test_no_monitor_for_a_pod_without_probes_and_none_left_after_down(probes):
    plain = play(probes, "plain.yaml", probes.pod("plain", sh("app", "sleep 3600")))
    watched = play(probes, "watched.yaml", probes.pod("watched", sh(
        "app", "sleep 3600", livenessProbe={**exec_action("true"), "periodSeconds": 1})))
    assert probes.inspect("plain")["probeMonitor"] == "none"
    assert monitor_pids(probes.kp.runroot, probes.inspect("plain")["id"]) == []
    assert len(monitor_pids(probes.kp.runroot, probes.inspect("watched")["id"])) == 1
    for manifest in (plain, watched):
        assert probes("down", str(manifest)).returncode == 0
    assert monitor_pids(probes.kp.runroot) == []
    # a container's exit callback (conmon's exit command) may still be finishing: it ends on its own
    probes.wait_for(lambda: str(probes.kp.runroot) not in "\n".join(process_command_lines()), timeout=15,
                    what="no process of the store left")


def test_a_job_pod_started_by_the_exit_callback_is_probed_from_its_start(probes):
    """The Job's second pod is started by the first pod's exit callback, with no command touching it:
    its monitor starts with it (`pods --format json` only lists, it starts no monitor)."""
    step = sh("step", "sleep 2", readinessProbe={**exec_action("true"), "periodSeconds": 1})
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "steps"},
           "spec": {"completions": 2, "parallelism": 1,
                    "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                                          "containers": [step]}}}}
    manifest = play(probes, "job.yaml", job)

    def listed() -> list[dict]:
        return json.loads(probes("pods", "--format", "json").stdout or "[]")

    [first] = listed()
    second = probes.wait_for(lambda: next((p for p in listed() if p["name"] != first["name"]), None), timeout=30,
                             what="the Job's second pod")
    probes.wait_for(lambda: monitor_pids(probes.kp.runroot, second["id"]), timeout=10,
                    what="the second pod's monitor")
    assert probes("down", str(manifest)).returncode == 0

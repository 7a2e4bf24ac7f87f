"""logs, exec and port-forward as kubectl's hands use them, against real pods."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


def sh(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script], **extra}


def play(pods, name: str, *documents: dict) -> None:
    result = pods("play", str(pods.write(name, *documents)))
    assert result.returncode == 0, result.stderr


def deployment(pods, name: str, *containers: dict, replicas: int = 1, labels: dict | None = None) -> dict:
    labels = labels or {"app": name}
    template = pods.pod(name, *containers)
    template["metadata"] = {"labels": labels}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}}


def pod_names(pods) -> list[str]:
    import json

    return sorted(p["name"] for p in json.loads(pods("pods", "--format", "json").stdout))


def test_default_container_logs_across_containers_and_selectors(pods):
    two = pods.pod("two", sh("first", "echo from-first; sleep 300"), sh("second", "echo from-second; sleep 300"))
    two["metadata"]["labels"] = {"tier": "back"}
    annotated = pods.pod("annotated", sh("a", "echo from-a; sleep 300"), sh("b", "echo from-b; sleep 300"))
    annotated["metadata"]["annotations"] = {"kubectl.kubernetes.io/default-container": "b"}
    annotated["metadata"]["labels"] = {"tier": "front"}
    play(pods, "logs.yaml", two, annotated)
    pods.wait_for(lambda: "from-second" in pods.logs("two", "second"), what="the second container's line")
    pods.wait_for(lambda: "from-b" in pods.logs("annotated", "b"), what="b's line")

    first = pods("logs", "two")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "from-first\n"
    assert 'Defaulted container "first" out of: first, second' in first.stderr
    assert pods("logs", "two", "second").stdout == "from-second\n"  # kubectl's `logs POD CONTAINER`
    pods("logs", "two", "second", "-c", "first").assert_fails_cleanly((1,), mentions=("second", "first"))
    chosen = pods("logs", "annotated")
    assert (chosen.returncode, chosen.stdout, chosen.stderr) == (0, "from-b\n", "")

    every = pods("logs", "two", "--all-containers", "--prefix")
    assert every.stdout.splitlines() == ["[pod/two/first] from-first", "[pod/two/second] from-second"]

    selected = pods("logs", "-l", "tier in (back,front)", "--all-containers")
    assert sorted(selected.stdout.splitlines()) == sorted(
        ["[pod/annotated/a] from-a", "[pod/annotated/b] from-b", "[pod/two/first] from-first",
         "[pod/two/second] from-second"])
    assert pods("logs", "-l", "tier=front", "-c", "a").stdout == "from-a\n"
    bad = pods("logs", "-l", "tier in (back")
    bad.assert_fails_cleanly((1,), mentions=("column 14",))

    assert pods("logs", "two", "-c", "first", "--since", "1h").stdout == "from-first\n"
    assert pods("logs", "two", "-c", "first", "--since-time", "2999-01-01T00:00:00Z").stdout == ""
    pods("logs", "two", "--since", "5 minutes").assert_fails_cleanly((1,), mentions=("duration",))


def test_logs_and_exec_reach_a_pod_of_a_deployment(pods):
    play(pods, "web.yaml", deployment(pods, "web", sh("main", "echo serving; sleep 300")))
    [name] = pods.wait_for(lambda: pod_names(pods), what="the deployment's pod")
    pods.wait_for(lambda: "serving" in pods.logs(name), what="the pod's line")
    assert pods("logs", "deploy/web").stdout == "serving\n"
    assert pods("logs", "deployment/web", "--timestamps").stdout.endswith(" serving\n")

    result = pods("exec", "-e", "GREETING=hi", "-u", "app", "-w", "/tmp", "deploy/web", "--",
                  "sh", "-c", 'echo "$GREETING $(id -u):$(id -g) $(pwd) $HOME"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi 1000:1000 /tmp /home/app\n"
    piped = pods("exec", "-it", "deploy/web", "--", "echo", "no-terminal")  # stdin is not a terminal here
    assert (piped.returncode, piped.stdout) == (0, "no-terminal\n"), piped.stderr
    assert "Unable to use a TTY - input is not a terminal" in piped.stderr  # kubectl's words; it runs without one
    numeric = pods("exec", "-u", "4321:99", "deploy/web", "--", "id", "-u")
    assert numeric.stdout.strip() == "4321"
    pods("exec", "-u", "nosuchuser", "deploy/web", "--", "true").assert_fails_cleanly((1,), mentions=("nosuchuser",))
    pods("logs", "deploy/nothing").assert_fails_cleanly((1,), mentions=("nothing",))
    pods("logs", "widget/web").assert_fails_cleanly((1,), mentions=("widget",))


def test_logs_follow_ends_quietly_on_ctrl_c(pods):
    play(pods, "ticker.yaml", pods.pod("ticker", sh("tick", "while true; do echo tick; sleep 0.2; done")))
    process = pods.kp.popen("logs", "-f", "ticker")
    try:
        first = process.stdout.readline()
        assert first.strip() == "tick"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert not err.strip(), err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_port_forward_serves_http_without_host_port_and_reports_refusals(pods):
    server = sh("web", "mkdir -p /www && echo hello-from-pod > /www/index.html && httpd -f -p 8080 -h /www")
    play(pods, "web.yaml", pods.pod("web", server))
    pods.wait_for(lambda: pods("exec", "web", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/").stdout,
                  what="httpd in the pod")
    local, dead = free_port(), free_port()
    process = pods.kp.popen("port-forward", "web", f"{local}:8080", f"{dead}:9999")
    try:
        wait_listening(local, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as answer:
            assert answer.read() == b"hello-from-pod\n"
        with socket.create_connection(("127.0.0.1", dead), timeout=10) as refused:
            refused.settimeout(10)
            assert refused.recv(10) == b""  # closed at once: nothing listens on 9999 in the pod
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as answer:
            assert answer.read() == b"hello-from-pod\n"  # forwarding goes on after a refusal

        busy = pods("port-forward", "web", f"{local}:8080", timeout=30)
        busy.assert_fails_cleanly((1,), mentions=(str(local), "python", "pid"))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert f"Forwarding from 127.0.0.1:{local} -> 8080" in out
    assert "9999" in err and "refused" in err
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", local)) != 0  # the port is given back


def test_port_forward_to_a_service_uses_its_target_port(pods):
    server = sh("web", "mkdir -p /www && echo via-service > /www/index.html && httpd -f -p 8080 -h /www")
    template = deployment(pods, "site", server)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "site"},
               "spec": {"selector": {"app": "site"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    play(pods, "site.yaml", template, service)
    pods.wait_for(lambda: pods("exec", "deploy/site", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/").stdout,
                  what="httpd in the pod")
    local = free_port()
    process = pods.kp.popen("port-forward", "svc/site", f"{local}:http")
    try:
        wait_listening(local, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as answer:
            assert answer.read() == b"via-service\n"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    pods("port-forward", "svc/site", "8081:81").assert_fails_cleanly((1,), mentions=("81",))
    pods("down", str(pods.manifests / "site.yaml"))


def fetch(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        return answer.read()


def ended(process, timeout: float = 30) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_port_forward_ends_when_its_pod_is_removed(pods):
    server = sh("web", "mkdir -p /www && echo alive > /www/index.html && httpd -f -p 8080 -h /www")
    play(pods, "web.yaml", pods.pod("web", server))
    pods.wait_for(lambda: pods("exec", "web", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/").stdout,
                  what="httpd in the pod")
    local = free_port()
    process = pods.kp.popen("port-forward", "web", f"{local}:8080")
    try:
        wait_listening(local, process)
        assert fetch(local) == b"alive\n"
        removed = pods("pod", "rm", "-f", "-t", "0", "web")
        assert removed.returncode == 0, removed.stderr
    finally:
        out, err = ended(process)  # bounded: a port-forward that kept running fails here
    assert process.returncode == 1, (out, err)
    assert err.strip() == 'error: lost connection to pod "web": it was removed', err  # one line
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", local)) != 0  # the port is given back


def test_port_forward_to_a_service_follows_its_ready_pods_then_ends(pods):
    server = sh("web", "mkdir -p /www && hostname > /www/index.html && httpd -f -p 8080 -h /www")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "site"},
               "spec": {"selector": {"app": "site"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    play(pods, "site.yaml", deployment(pods, "site", server, replicas=2), service)
    names = pods.wait_for(lambda: len(pod_names(pods)) == 2 and pod_names(pods), what="two pods")
    for name in names:
        pods.wait_for(lambda name=name: pods("exec", name, "--", "wget", "-q", "-O", "-",
                                             "http://127.0.0.1:8080/").stdout, what=f"httpd in {name}")
    local = free_port()
    process = pods.kp.popen("port-forward", "svc/site", f"{local}:http")
    try:
        wait_listening(local, process)
        first = fetch(local).decode().strip()
        assert first in names
        removed = pods("pod", "rm", "-f", "-t", "0", first)
        assert removed.returncode == 0, removed.stderr
        [second] = [name for name in names if name != first]
        pods.wait_for(lambda: _answer(local) == second, what="the other pod answering")
        assert process.poll() is None  # still forwarding, to the pod left
        removed = pods("pod", "rm", "-f", "-t", "0", second)
        assert removed.returncode == 0, removed.stderr
    finally:
        out, err = ended(process)
    assert process.returncode == 1, (out, err)
    lines = err.strip().splitlines()
    assert f'pod "{first}": it was removed; forwarding to pod "{second}" of service "site" from now on' in lines
    assert lines[-1] == (f'error: lost connection to pod "{second}": it was removed, and service "site" '
                         "has no other ready pod"), err


def _answer(port: int) -> str:
    try:
        return fetch(port).decode().strip()
    except OSError:
        return ""


def test_top_figures_move_when_a_container_burns_cpu(pods):
    import json

    burner = sh("burn", "while :; do :; done")
    filler = sh("fill", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=40 2>/dev/null; sleep 300")
    idle = sh("idle", "sleep 300")
    play(pods, "top.yaml", pods.pod("busy", burner, filler, idle))
    pods.wait_for(lambda: pods("exec", "busy", "-c", "fill", "--", "ls", "/dev/shm/fill").returncode == 0,
                  what="the filler's file")
    result = pods("top", "pod", "busy", "--format", "json", "--sample", "2")
    assert result.returncode == 0, result.stderr
    figures = {row["container"]: row for row in json.loads(result.stdout)}
    assert set(figures) == {"burn", "fill", "idle"}
    assert figures["burn"]["cpuMillicores"] > 100
    assert figures["burn"]["cpuMillicores"] > figures["idle"]["cpuMillicores"]
    assert figures["idle"]["cpuMillicores"] < 100
    assert figures["fill"]["memoryBytes"] >= 40 << 20
    assert figures["fill"]["memoryBytes"] > figures["idle"]["memoryBytes"]

    table = pods("top", "pod", "--containers")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert any(line.split()[:2] == ["busy", "burn"] and line.split()[2].endswith("m") for line in lines[1:])
    summary = pods("top", "pods").stdout.splitlines()
    assert summary[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert summary[1].split()[0] == "busy" and int(summary[1].split()[2].rstrip("Mi")) >= 40
    pods("top", "pod", "nothing").assert_fails_cleanly((1,), mentions=("nothing",))

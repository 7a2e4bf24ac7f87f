"""kubeplay under a service manager, tested through the protocols themselves (systemd is not PID 1
here): a NOTIFY_SOCKET the test binds hears the play's progress and READY=1 only once the pods are
ready; `systemd-socket-activate` hands a listening socket to `play`, and the container named by the
annotation answers on it; a wiped run root followed by the unit's ExecStart brings a pod back with
its claim's data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX, conmon_pids_for
from tests.support.cli import mounts_below, skip_inside_a_chroot

pytestmark = pytest.mark.root

DATA = Path(__file__).parent.parent / "data" / "systemd"


class NotifyListener:
    """The service manager's end of NOTIFY_SOCKET: a datagram socket bound in the test's directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def receive_until(self, key: str, timeout: float = 90) -> list[dict[str, str]]:
        """Messages until one carries `key` (e.g. READY); the whole sequence so far."""
        deadline = time.monotonic() + timeout
        while not any(key in m for m in self.messages):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {key}= within {timeout}s; heard {self.messages}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line))
        return self.messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(pods):
    heard = NotifyListener(pods.kp.base / "notify.sock")
    yield heard
    heard.close()


def ready_in_store(pods, name: str) -> bool:
    listed = pods("pods", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    entry = next(p for p in json.loads(listed.stdout) if p["name"] == name)
    return entry["ready"] == "1/1" if isinstance(entry.get("ready"), str) else bool(entry.get("ready"))


def becomes_ready(pods, name: str, delay: int) -> dict:
    """A pod whose readiness probe passes only `delay` seconds after it starts."""
    container = {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never",
                 "command": ["sh", "-c", f"sleep {delay}; touch /tmp/ready; exec sleep 3600"],
                 "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}}
    return pods.pod(name, container)


def with_notify(pods, listener) -> dict:
    return dict(pods.kp.env, NOTIFY_SOCKET=str(listener.path))


def test_notify_socket_hears_status_then_ready_only_after_readiness(pods, listener):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    manifest = pods.write("ready.yaml", becomes_ready(pods, "slowready", 3))
    env = with_notify(pods, listener)
    played = subprocess.run(pods.kp.argv("play", str(manifest)), env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    messages = listener.receive_until("READY", timeout=5)
    statuses = [m["STATUS"] for m in messages if "STATUS" in m and "READY" not in m]
    assert "pod slowready: running" in statuses, messages
    assert "0/1 pods ready" in statuses, messages  # it waited, saying so
    ready = messages[-1]
    assert ready["READY"] == "1" and ready["STATUS"] == "1/1 pods ready"
    assert "MAINPID" not in ready  # this play returns: it names no process to watch (--service does)
    assert pods.container("slowready", "app")["ready"] is True  # readiness had passed when READY=1 came
    assert "warning" not in played.stderr


def test_a_pull_is_told_to_the_service_manager(pods, listener, registry, test_images):
    conf = pods.kp.base / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    manifest = pods.write("pulled.yaml", pods.pod("pulled", {"name": "a", "image": test_images.busybox,
                                                             "imagePullPolicy": "Always", "command": ["sleep", "3600"]}))
    env = dict(with_notify(pods, listener), CONTAINERS_REGISTRIES_CONF=str(conf))
    played = subprocess.run(pods.kp.argv("play", str(manifest)), env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    statuses = [m.get("STATUS", "") for m in listener.receive_until("READY", timeout=5)]
    pulling = [i for i, text in enumerate(statuses) if text.startswith("Trying to pull")]
    assert pulling and pulling[0] < statuses.index("pod pulled: running"), statuses


def test_notify_socket_pointing_nowhere_warns_once_and_play_works(pods):
    manifest = pods.write("nowhere.yaml", pods.pod("nowhere", {"name": "a", "image": BUSYBOX,
                                                               "imagePullPolicy": "Never", "command": ["sleep", "3600"]}))
    env = dict(pods.kp.env, NOTIFY_SOCKET=str(pods.kp.base / "no-such.sock"))
    played = subprocess.run(pods.kp.argv("play", str(manifest)), env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    warnings = [line for line in played.stderr.splitlines() if "NOTIFY_SOCKET" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning:") and "cannot be reached" in warnings[0]
    assert pods.container("nowhere", "a")["state"] == "running"


def test_service_stays_until_down_and_says_stopping(pods, listener):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    manifest = pods.write("svc.yaml", becomes_ready(pods, "stays", 0))
    env = with_notify(pods, listener)
    service = subprocess.Popen(pods.kp.argv("play", "--service", str(manifest)), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        messages = listener.receive_until("READY")
        assert int(messages[-1]["MAINPID"]) == service.pid  # the process systemd started stays to be watched
        assert service.poll() is None
        down = subprocess.run(pods.kp.argv("down", str(manifest)), env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        assert down.returncode == 0, down.stderr
        assert "pod/stays deleted" in down.stdout
        listener.receive_until("STOPPING")
        assert service.wait(timeout=30) == 0  # its pods are gone: it ends, and not as a failure
    finally:
        if service.poll() is None:
            service.kill()
            service.wait(timeout=10)


def test_service_takes_its_pods_down_on_sigterm(pods, listener):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    manifest = pods.write("term.yaml", becomes_ready(pods, "term", 0))
    service = subprocess.Popen(pods.kp.argv("play", "--service", str(manifest)), env=with_notify(pods, listener),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        listener.receive_until("READY")
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0, service.stderr.read()
        assert listener.receive_until("STOPPING", timeout=5)
        listed = pods("pods", "--format", "json")
        assert json.loads(listed.stdout or "[]") == []
    finally:
        if service.poll() is None:
            service.kill()
            service.wait(timeout=10)


def test_a_container_speaking_sd_notify_decides_readiness(pods, listener):
    # busybox cannot send a datagram to a unix socket: a static helper in a hostPath volume does
    helper = build_helper(pods, "notify-ready")
    container = {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never",
                 "command": ["sh", "-c", "sleep 2; /opt/helper/notify-ready 'STATUS=warming up'; sleep 1; "
                                         "/opt/helper/notify-ready READY=1; exec sleep 3600"],
                 "volumeMounts": [{"name": "helper", "mountPath": "/opt/helper", "readOnly": True}]}
    pod = pods.pod("speaks", container, volumes=[{"name": "helper", "hostPath": {"path": str(helper.parent)}}])
    pod["metadata"]["annotations"] = {"io.containers.sdnotify": "container"}
    manifest = pods.write("speaks.yaml", pod)
    played = subprocess.run(pods.kp.argv("play", str(manifest)), env=with_notify(pods, listener),
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    messages = listener.receive_until("READY", timeout=5)
    statuses = [m.get("STATUS") for m in messages]
    assert "speaks/app: warming up" in statuses, messages  # the container's own STATUS, passed on
    waiting = statuses.index("waiting for READY=1 from 1 container(s)")
    assert waiting < len(messages) - 1 and "READY" not in messages[waiting]


def build_helper(pods, name: str) -> Path:
    """A static binary from tests/data/systemd, built into the test's directory."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the test's static helper")
    out = pods.kp.base / "helper" / name
    out.parent.mkdir(exist_ok=True)
    built = subprocess.run(["gcc", "-static", "-Os", "-o", str(out), str(DATA / f"{name}.c")],
                           capture_output=True, text=True, timeout=120)
    if built.returncode != 0:
        pytest.skip(f"cannot build a static binary here: {built.stderr.strip()[:200]}")
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_socket_activation_hands_the_socket_to_the_named_container(pods, listener):
    if shutil.which("systemd-socket-activate") is None:
        pytest.skip("systemd-socket-activate (Debian's systemd package) is not installed")
    helper = build_helper(pods, "serve-fd3")
    server = {"name": "server", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/opt/helper/serve-fd3"],
              "volumeMounts": [{"name": "helper", "mountPath": "/opt/helper", "readOnly": True}]}
    sidecar = {"name": "sidecar", "image": BUSYBOX, "imagePullPolicy": "Never",
               "command": ["sh", "-c", "readlink /proc/self/fd/3 || echo no fd 3; env; exec sleep 3600"]}
    pod = pods.pod("activated", server, sidecar, volumes=[{"name": "helper", "hostPath": {"path": str(helper.parent)}}])
    pod["metadata"]["annotations"] = {"kubeplay.io/socket-activation": "server"}
    manifest = pods.write("activated.yaml", pod)
    port = free_port()
    env = with_notify(pods, listener)
    activator = subprocess.Popen(["systemd-socket-activate", "--listen", f"127.0.0.1:{port}",
                                  *[f"--setenv={name}" for name in ("NOTIFY_SOCKET",)],
                                  *pods.kp.argv("play", "--service", str(manifest))],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 stdin=subprocess.DEVNULL)
    try:
        answer = request(port)  # the first connection makes systemd-socket-activate start kubeplay
        assert answer.startswith("served from fd 3: LISTEN_FDS=1 LISTEN_PID=1 pid=1"), answer
        ready = listener.receive_until("READY")[-1]
        assert int(ready["MAINPID"]) == activator.pid  # the activator execs kubeplay: one process throughout
        assert request(port).startswith("served from fd 3"), "a second request, served by the same container"
        sidecar_log = pods.logs("activated", "sidecar")
        assert "LISTEN_FDS" not in sidecar_log  # the other container gets neither the sockets nor the variables
        assert "no fd 3" in sidecar_log and "socket:" not in sidecar_log
    finally:
        activator.send_signal(signal.SIGTERM)
        try:
            activator.wait(timeout=60)
        except subprocess.TimeoutExpired:
            activator.kill()
            activator.wait(timeout=10)
    assert json.loads(pods("pods", "--format", "json").stdout or "[]") == []


def request(port: int, timeout: float = 90) -> str:
    """One connection's answer; refused connections are retried for a while (the activator may
    not listen yet)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with conn:
        conn.settimeout(timeout)
        return conn.recv(4096).decode()


def test_socket_activation_annotation_naming_no_container_is_refused(pods):
    pod = pods.pod("wrong", {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "9"]})
    pod["metadata"]["annotations"] = {"kubeplay.io/socket-activation": "web"}
    manifest = pods.write("wrong.yaml", pod)
    failed = pods("play", str(manifest))
    failed.assert_fails_cleanly(exit_codes=(1,), mentions=('"web"', "kubeplay.io/socket-activation"))
    assert json.loads(pods("pods", "--format", "json").stdout or "[]") == []


def wipe_run_root(pods) -> None:
    """What a reboot does to the run root: every process of it gone, every mount and file too."""
    pod_ids = [row["id"] for row in json.loads(pods("pods", "-A", "--format", "json").stdout)]
    for pid in conmon_pids_for(pods.kp.runroot):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # the containers' processes go with the "reboot" too, the infra's pause process included: every
    # process in the cgroup of one of the store's pods (/kubeplay/pod-ID/CONTAINER)
    marks = [f"/kubeplay/pod-{pod_id}/" for pod_id in pod_ids]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cgroups = (entry / "cgroup").read_text()
            except OSError:
                continue
            if any(mark in cgroups for mark in marks):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    for point in mounts_below(pods.kp.runroot):
        subprocess.run(["umount", "-l", point], check=False, timeout=30)
    shutil.rmtree(pods.kp.runroot)


def test_after_a_wiped_run_root_the_units_exec_start_brings_the_pod_back_with_its_claim(pods, listener):
    skip_inside_a_chroot("kubeplay refuses exec there: the runtime's exec would enter the host's root")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "keep"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}
    container = {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never",
                 "command": ["sh", "-c", "date +%s%N >> /data/boots; exec sleep 3600"],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    pod = pods.pod("boots", container, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "keep"}}])
    manifest = pods.write("boots.yaml", claim, pod)
    assert pods("play", "--wait", str(manifest)).returncode == 0
    wipe_run_root(pods)
    listed = json.loads(pods("pods", "--format", "json").stdout)
    assert [p["status"] for p in listed] == ["Stopped"]  # never a pre-reboot container as running
    unit = pods("generate", "systemd", str(manifest))
    assert unit.returncode == 0, unit.stderr
    exec_start = next(line.split("=", 1)[1] for line in unit.stdout.splitlines() if line.startswith("ExecStart="))
    args = exec_start.split()[1:]  # the unit's own command line, run with this test's roots
    service = subprocess.Popen(pods.kp.argv(*args), env=with_notify(pods, listener), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        listener.receive_until("READY")
        boots = subprocess.run(pods.kp.argv("exec", "boots", "--", "cat", "/data/boots"), env=pods.kp.env,
                               capture_output=True, text=True, timeout=60).stdout.split()
        assert len(boots) == 2, boots  # the claim's data from before the "reboot", and this boot's line
        listed = json.loads(pods("pods", "--format", "json").stdout)
        assert [p["status"] for p in listed] == ["Running"]
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)


def test_down_after_a_killed_service_leaves_no_notify_relay(pods, listener):
    container = {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
    pod = pods.pod("relayed", container)
    pod["metadata"]["annotations"] = {"io.containers.sdnotify": "container"}
    manifest = pods.write("relayed.yaml", pod)
    relays = pods.kp.runroot / "notify" / "relayed"
    service = subprocess.Popen(pods.kp.argv("play", "--service", str(manifest)), env=with_notify(pods, listener),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        pods.wait_for(lambda: relays.exists() and any(
            p["name"] == "relayed" and p["status"] == "Running" for p in json.loads(pods("pods", "--format", "json").stdout)),
            30, "the pod to run with its relay")
    finally:
        service.kill()  # as kill -9 would: the service cannot remove its relay
        service.wait(timeout=10)
    assert relays.exists()
    down = pods("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert not relays.exists()

"""Rootless pods: kubeplay run by a throwaway unprivileged user (see tests/support/rootless.py).

Each test gets its own user, with its own HOME (graph root under ~/.local/share/kubeplay) and
XDG_RUNTIME_DIR (run root), and the busybox image imported into that user's store. The user is
deleted afterwards; the only process kubeplay may leave behind is the per-user pause process.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.support import imagebuild
from tests.support.cli import skip_inside_a_chroot
from tests.support.rootless import RootlessUser, make_user, open_tun

pytestmark = pytest.mark.root

BUSYBOX = "localhost/test/busybox:latest"
PAUSE = "catatonit"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def base():
    """A directory other users can search (pytest's own tmp dirs are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="kp-rootless-", dir="/tmp"))
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def rootfs_tar(base: Path) -> Path:
    tar = imagebuild.write_rootfs_tar(base / "busybox-rootfs.tar")
    os.chmod(tar, 0o644)
    return tar


def _checked_removal(user: RootlessUser) -> None:
    leftovers = user.remove()
    assert all(comm == PAUSE for _, comm in leftovers), f"processes left running as {user.name}: {leftovers}"


@pytest.fixture
def user(base: Path, rootfs_tar: Path):
    if os.geteuid() != 0:
        pytest.skip("creating users needs root")
    skip_inside_a_chroot("the kernel refuses to create user namespaces there")
    made = make_user(base)
    with open_tun():
        try:
            done = made.kp("image", "import", str(rootfs_tar), BUSYBOX, "--change", 'CMD ["sh"]')
            assert done.returncode == 0, done.stderr
            yield made
        finally:
            _checked_removal(made)


def write_manifest(user: RootlessUser, name: str, document: dict) -> Path:
    path = user.home / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    os.chown(path, user.uid, user.gid)
    return path


def pod(name: str, *containers: dict, **spec: object) -> dict:
    # the image is only local: no pull attempt (a :latest tag would otherwise ask a registry first)
    local = [{"imagePullPolicy": "IfNotPresent", **container} for container in containers]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": local, "terminationGracePeriodSeconds": 1, **spec}}


def fetch(port: int, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                data = conn.recv(200)
                if data:
                    return data
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on 127.0.0.1:{port}: {last}")


def mounts_in_namespace(pid: int, *below: Path) -> list[str]:
    """Mount points under `below` as the pause process (the user's mount namespace) sees them."""
    found = []
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if any(point.startswith(str(prefix)) for prefix in below):
            found.append(point)
    return found


def helpers_of(user: RootlessUser) -> list[tuple[int, str]]:
    return [(pid, comm) for pid, comm in user.processes() if comm != PAUSE]


def test_two_container_pod_is_reachable_runs_exec_and_logs_and_down_leaves_nothing(user: RootlessUser) -> None:
    port = _free_port()
    manifest = write_manifest(user, "web.yaml", pod(
        "web",
        {"name": "server", "image": BUSYBOX,
         "command": ["sh", "-c", "while true; do echo hello-rootless | nc -l -p 8080; done"],
         "ports": [{"containerPort": 8080, "hostPort": port}]},
        {"name": "side", "image": BUSYBOX, "command": ["sh", "-c", "echo side-started; exec sleep 600"]},
    ))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert fetch(port) == b"hello-rootless\n"

    listed = user.kp("pods")
    assert "web" in listed.stdout and "2/2" in listed.stdout, listed.stdout
    logs = user.kp("logs", "web", "-c", "side")
    assert logs.returncode == 0 and "side-started" in logs.stdout, logs
    inside = user.kp("exec", "web", "-c", "side", "--", "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert inside.returncode == 0, inside.stderr
    lines = inside.stdout.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(user.uid), "1"], inside.stdout  # container root is the user

    pause = user.pause_pid()
    assert pause is not None
    down = user.kp("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == [], "conmon, containers or pasta still running after down"
    assert mounts_in_namespace(pause, user.runroot, user.graph_root) == []
    for directory in ("containers", "pods", "netns", "exits"):
        left = list((user.runroot / directory).glob("*")) if (user.runroot / directory).exists() else []
        assert left == [], f"{directory} in the run root still holds {left}"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_host_path_written_by_container_root_belongs_to_the_user(user: RootlessUser) -> None:
    shared = user.home / "shared"
    shared.mkdir()
    os.chown(shared, user.uid, user.gid)
    manifest = write_manifest(user, "writer.yaml", pod(
        "writer",
        {"name": "writer", "image": BUSYBOX, "securityContext": {"runAsUser": 0},
         "command": ["sh", "-c", "echo written-inside > /data/out.txt; exec sleep 600"],
         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        volumes=[{"name": "data", "hostPath": {"path": str(shared), "type": "Directory"}}],
    ))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    out = shared / "out.txt"
    deadline = time.monotonic() + 20
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert out.read_text() == "written-inside\n"
    assert (out.stat().st_uid, out.stat().st_gid) == (user.uid, user.gid)
    assert user.kp("down", str(manifest)).returncode == 0


def test_root_and_user_do_not_see_each_others_pods(user: RootlessUser, pods) -> None:
    root_manifest = pods.write("rootpod.yaml", pods.pod(
        "rootpod", {"name": "main", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", "600"]}, terminationGracePeriodSeconds=1))
    assert pods("play", str(root_manifest)).returncode == 0
    user_manifest = write_manifest(user, "userpod.yaml", pod(
        "userpod", {"name": "main", "image": BUSYBOX, "command": ["sleep", "600"]}))
    played = user.kp("play", str(user_manifest))
    assert played.returncode == 0, played.stderr

    as_root = pods("pods").stdout
    as_user = user.kp("pods").stdout
    assert "rootpod" in as_root and "userpod" not in as_root
    assert "userpod" in as_user and "rootpod" not in as_user
    assert user.kp("pod", "inspect", "rootpod").returncode != 0
    assert user.kp("down", str(user_manifest)).returncode == 0


def test_privileged_host_port_is_refused_naming_the_sysctl(user: RootlessUser) -> None:
    manifest = write_manifest(user, "low.yaml", pod(
        "low", {"name": "main", "image": BUSYBOX, "command": ["sleep", "600"],
                "ports": [{"containerPort": 80, "hostPort": 80}]}))
    failed = user.kp("play", str(manifest))
    failed.assert_fails_cleanly(mentions=("net.ipv4.ip_unprivileged_port_start", "80"))
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start" in "\n".join(failed.hint_lines())
    assert "low" not in user.kp("pods").stdout


def test_missing_pasta_and_slirp4netns_is_one_error_and_nothing_half_made(user: RootlessUser, base: Path) -> None:
    manifest = write_manifest(user, "net.yaml", pod(
        "net", {"name": "main", "image": BUSYBOX, "command": ["sleep", "600"]}))
    empty = base / "empty-path"
    empty.mkdir()
    failed = user.kp("play", str(manifest), env={"PATH": str(empty)})
    failed.assert_fails_cleanly(mentions=("pasta", "slirp4netns"))
    assert "apt-get install passt" in "\n".join(failed.hint_lines())
    assert "net" not in user.kp("pods").stdout.split()
    assert helpers_of(user) == []
    assert not list((user.runroot / "netns").glob("*")) if (user.runroot / "netns").exists() else True


def test_user_without_subordinate_ids_gets_the_usermod_fix(base: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating users needs root")
    plain = make_user(base, subids=False)
    try:
        failed = plain.kp("pods")
        failed.assert_fails_cleanly(exit_codes=(125,), mentions=("/etc/subuid", "/etc/subgid", plain.name))
        hint = "\n".join(failed.hint_lines())
        assert "usermod --add-subuids" in hint and "--add-subgids" in hint and plain.name in hint
        assert plain.pause_pid() is None
        check = plain.kp("system", "check")
        assert "usermod --add-subuids" in check.stdout
    finally:
        _checked_removal(plain)


def test_missing_newuidmap_is_named_with_its_package(base: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating users needs root")
    skip_inside_a_chroot("the kernel refuses to create user namespaces there")
    made = make_user(base)
    try:
        empty = base / "no-uidmap"
        empty.mkdir()
        failed = made.kp("pods", env={"PATH": str(empty)})
        failed.assert_fails_cleanly(mentions=("newuidmap",))
        assert "apt-get install uidmap" in "\n".join(failed.hint_lines())
        assert made.pause_pid() is None and made.processes() == []
    finally:
        _checked_removal(made)


def test_unwritable_runtime_dir_is_named_with_the_fix(base: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating users needs root")
    skip_inside_a_chroot("the kernel refuses to create user namespaces there")
    made = make_user(base)
    try:
        foreign = base / "not-yours"
        foreign.mkdir(mode=0o755)
        failed = made.kp("pods", env={"XDG_RUNTIME_DIR": str(foreign)})
        failed.assert_fails_cleanly(mentions=("XDG_RUNTIME_DIR", str(foreign)))
        assert "--runroot" in "\n".join(failed.hint_lines())
        assert list(foreign.iterdir()) == []
    finally:
        _checked_removal(made)


def test_limits_without_a_delegated_cgroup_warn_once_and_the_pod_runs(user: RootlessUser) -> None:
    from kubeplay.rootless.cgroups import delegation

    if delegation()[0]:
        pytest.skip("this host delegates a cgroup v2 subtree: limits apply")
    manifest = write_manifest(user, "limited.yaml", pod(
        "limited", {"name": "main", "image": BUSYBOX, "command": ["sleep", "600"],
                    "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}}))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert played.stderr.count("resource limits are not applied") == 1, played.stderr
    assert "1/1" in user.kp("pods").stdout
    assert user.kp("down", str(manifest)).returncode == 0


PAGE_IS_HOSTNAME = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


def write_documents(user: RootlessUser, name: str, *documents: dict) -> Path:
    path = user.home / name
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    os.chown(path, user.uid, user.gid)
    return path


def service(name: str, spec: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def node_port_service(name: str, labels: dict, node_port: int) -> dict:
    """A NodePort Service of port 80 to the pods' containerPort named http."""
    return service(name, {"type": "NodePort", "selector": labels,
                          "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": node_port}]})


def deployment(name: str, replicas: int, labels: dict, ports: list[dict]) -> dict:
    container = {"name": "server", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                 "command": ["sh", "-c", PAGE_IS_HOSTNAME], "ports": ports}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container], "terminationGracePeriodSeconds": 1}}}}


def http_gets(host: str, count: int = 1) -> str:
    """A script printing the page of http://HOST/ `count` times. busybox wget crashes in a rootless
    pod here, so nc asks, keeping its side open for half a second (an answer here comes in milliseconds): the pasta of Debian 12 mishandles a
    connection the client half-closes first (it repeats the answer and never closes). The requests
    are made side by side, each answer kept in a file of its own and printed in order at the end,
    so `count` requests take one half second, not `count` of them."""
    request = "(printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 0.5)"
    answers = "/tmp/http-gets"
    return (f"mkdir -p {answers}; for i in $(seq 1 {count}); do "
            f"( {request} | timeout 10 nc {host} 80 | tail -n 1 > {answers}/$i ) & done; wait; "
            f"for i in $(seq 1 {count}); do cat {answers}/$i; echo; done; rm -rf {answers}")


def user_exec(user: RootlessUser, pod_name: str, script: str) -> str:
    done = user.kp("exec", pod_name, "--", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port_from(first: int, count: int = 1000) -> int:
    """The first port from `first` that nothing on the host holds."""
    for number in range(first, first + count):
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", number))
            except OSError:
                continue
            return number
    raise AssertionError(f"no free port from {first}")


def free_node_port() -> int:
    return free_port_from(31500, 1200)


def fetch_http(port: int, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
                if data:
                    return data.decode(errors="replace").split("\r\n\r\n", 1)[-1]
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on 127.0.0.1:{port}: {last}")


def test_service_names_and_cluster_ip_reach_both_replicas_and_down_leaves_nothing(user: RootlessUser) -> None:
    labels = {"app": "web"}
    node_port = free_node_port()
    manifest = write_documents(
        user, "svc.yaml",
        node_port_service("web", labels, node_port),
        deployment("web", 2, labels, [{"name": "http", "containerPort": 8080}]),
        pod("client", {"name": "c", "image": BUSYBOX, "command": ["sleep", "600"]}))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert "service/web created" in played.stdout
    rows = json.loads(user.kp("services", "--format", "json").stdout)
    cluster_ip = rows[0]["clusterIP"]
    assert cluster_ip and len(rows[0]["endpoints"]) == 2, rows
    replicas = {line.split()[0] for line in user.kp("pods").stdout.splitlines()[1:] if line.startswith("web-")}
    assert len(replicas) == 2, replicas

    for name in ("web", "web.default", "web.default.svc.cluster.local", cluster_ip):
        assert user_exec(user, "client", http_gets(name)).strip() in replicas, name
    seen = user_exec(user, "client", http_gets("web", 16)).split()
    assert len(seen) == 16 and set(seen) == replicas  # every answer from a replica, both seen
    assert "search default.svc.cluster.local" in user_exec(user, "client", "cat /etc/resolv.conf")
    # hairpin: a replica reaching the Service that selects it
    one = sorted(replicas)[0]
    answers = user_exec(user, one, http_gets("web", 12)).split()
    assert len(answers) == 12 and set(answers) <= replicas and one in answers
    # the node port, published by the helper of the first replica to start, which play names, and
    # spread over the replicas (tests/integration/test_rootless_services.py)
    assert f"{node_port}/TCP is published on the host by the network helper of pod web-" in played.stderr
    assert fetch_http(node_port).strip() in replicas

    pause = user.pause_pid()
    down = user.kp("down", str(manifest))
    assert down.returncode == 0 and "service/web deleted" in down.stdout, down
    assert helpers_of(user) == [], "conmon, containers or pasta still running after down"
    assert pause is not None and mounts_in_namespace(pause, user.runroot, user.graph_root) == []
    assert list((user.runroot / "netns").glob("*")) == []
    assert user.kp("services").stdout.strip() == "" or "web" not in user.kp("services").stdout


def path_without_pasta(base: Path) -> str:
    """A PATH holding every tool of the usual directories but pasta, so that slirp4netns is chosen."""
    tools = base / "no-pasta"
    tools.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        for tool in sorted(Path(directory).glob("*")) if Path(directory).is_dir() else []:
            if not tool.name.startswith(("pasta", "passt")) and not (tools / tool.name).exists():
                (tools / tool.name).symlink_to(tool)
    os.chmod(tools, 0o755)
    return str(tools)


def test_service_through_slirp4netns_and_the_host_loopback_stays_closed(user: RootlessUser, base: Path) -> None:
    labels = {"app": "web"}
    manifest = write_documents(
        user, "svc.yaml",
        service("web", {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}),
        deployment("web", 2, labels, [{"containerPort": 8080}]),
        pod("client", {"name": "c", "image": BUSYBOX, "command": ["sleep", "600"]}))
    env = {"PATH": path_without_pasta(base)}
    played = user.kp("play", str(manifest), env=env)
    assert played.returncode == 0, played.stderr
    assert {comm for _, comm in helpers_of(user)} >= {"slirp4netns"}
    replicas = {line.split()[0] for line in user.kp("pods").stdout.splitlines()[1:] if line.startswith("web-")}
    seen = user_exec(user, "client", http_gets("web", 12)).split()
    assert len(seen) == 12 and set(seen) == replicas
    # the host's loopback is opened to reach the other pods' forwards, but only Service traffic gets there
    files = [json.loads(path.read_text()) for path in (user.runroot / "netns").glob("*.forwards")]
    port = next(entry[2] for data in files for entry in data["ports"])  # a replica's, open on 127.0.0.1
    refused = user.kp("exec", "client", "--", "sh", "-c", f"echo x | timeout 5 nc 10.0.2.2 {port}; echo rc=$?")
    assert "rc=1" in refused.stdout and "refused" in refused.stderr, refused
    down = user.kp("down", str(manifest), env=env)
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == []


def test_node_port_below_the_unprivileged_port_start_is_refused_and_nothing_is_made(user: RootlessUser) -> None:
    labels = {"app": "web"}
    balancer = write_documents(
        user, "lb.yaml",
        service("web", {"type": "LoadBalancer", "selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}),
        deployment("web", 1, labels, [{"containerPort": 8080}]))
    failed = user.kp("play", str(balancer))
    assert failed.returncode == 1, failed
    assert "spec.ports[0].port" in failed.stderr and "80 is below net.ipv4.ip_unprivileged_port_start (" in failed.stderr
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start=80" in failed.stderr and "Traceback" not in failed.stderr

    node_port = free_node_port()
    node = write_documents(
        user, "np.yaml",
        service("web", {"type": "NodePort", "selector": labels,
                        "ports": [{"port": 80, "targetPort": 8080, "nodePort": node_port}]}),
        deployment("web", 1, labels, [{"containerPort": 8080}]))
    sysctl = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    before = sysctl.read_text()
    sysctl.write_text(str(node_port + 1))  # node ports are above 30000: only a raised limit refuses one
    try:
        failed = user.kp("play", str(node))
    finally:
        sysctl.write_text(before)
    assert failed.returncode == 1, failed
    assert (f"spec.ports[0].nodePort: {node_port} is below net.ipv4.ip_unprivileged_port_start ({node_port + 1})"
            in failed.stderr), failed.stderr
    assert "web" not in user.kp("pods").stdout and "web" not in user.kp("services").stdout
    assert helpers_of(user) == []


def test_probes_run_for_a_rootless_pod_and_readiness_shows_in_pods(user: RootlessUser) -> None:
    manifest = write_manifest(user, "probed.yaml", pod(
        "probed",
        {"name": "app", "image": BUSYBOX,
         "command": ["sh", "-c", "while true; do echo up | nc -l -p 8080; done"],
         "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
         "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}},
    ))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr

    def ready_column() -> str:
        listed = user.kp("pods")
        return next(line.split()[1] for line in listed.stdout.splitlines()[1:] if line.split()[0] == "probed")

    time.sleep(2)  # a few probe periods: not ready while the file is missing
    assert ready_column() == "0/1"
    assert user.kp("exec", "probed", "--", "touch", "/tmp/ready").returncode == 0
    deadline = time.monotonic() + 15
    while ready_column() != "1/1" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert ready_column() == "1/1"
    shown = json.loads(user.kp("pod", "inspect", "probed", "--format", "json").stdout)[0]
    assert shown["containers"][0]["restartCount"] == 0  # the tcpSocket liveness probe reaches the pod
    down = user.kp("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == [], "the probe monitor or a conmon is still running after down"

"""Rootless Services beyond TCP between pods: a NodePort and a LoadBalancer port from the host,
spread over the Service's ready replicas and following readiness, and UDP through a cluster IP.

Run by a throwaway unprivileged user, as the other rootless tests (tests/integration/test_rootless.py,
whose fixtures this file shares). A node port is bound by one replica's pasta; that replica's own
table sends each connection to a ready replica (pods/rootlessnodeports.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from tests.integration.test_rootless import (  # noqa: F401 (fixtures)
    BUSYBOX,
    RootlessUser,
    base,
    deployment,
    fetch_http,
    free_node_port,
    free_port_from,
    helpers_of,
    node_port_service,
    path_without_pasta,
    rootfs_tar,
    pod,
    service,
    user,
    user_exec,
    write_documents,
)

pytestmark = pytest.mark.root

SERVE_HOSTNAME = "mkdir -p /www && hostname > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www"


def probed_deployment(name: str, replicas: int, labels: dict) -> dict:
    """Replicas answering their pod name, ready while /tmp/ready exists."""
    container = {"name": "server", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                 "command": ["sh", "-c", SERVE_HOSTNAME], "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1,
                                    "failureThreshold": 1}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container], "terminationGracePeriodSeconds": 1}}}}


def ready_of(user: RootlessUser) -> dict[str, str]:
    rows = user.kp("pods").stdout.splitlines()[1:]
    return {line.split()[0]: line.split()[1] for line in rows if line.startswith("web-")}


def wait_ready(user: RootlessUser, wanted: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while ready_of(user) != wanted and time.monotonic() < deadline:
        time.sleep(0.3)
    assert ready_of(user) == wanted


def answers(port: int, count: int) -> list[str]:
    return [fetch_http(port).strip() for _ in range(count)]


def settled(port: int, expected: set[str], timeout: float = 20) -> None:
    """Wait until the tables follow what `pods` shows: the probe monitor records readiness first
    and rewrites the Service tables just after."""
    deadline = time.monotonic() + timeout
    while not set(answers(port, 4)) <= expected and time.monotonic() < deadline:
        time.sleep(0.2)


def use_helper(user: RootlessUser, helper: str, base) -> None:
    if helper == "slirp4netns":
        user.extra_env["PATH"] = path_without_pasta(base)


@pytest.mark.parametrize("helper", ["pasta", "slirp4netns"])
def test_node_port_from_the_host_reaches_every_ready_replica_and_no_unready_one(
        user: RootlessUser, base, helper: str) -> None:
    # pasta hands a connection from the host's loopback to the pod's loopback, slirp4netns through
    # its tap device: the two ways into the holder's table
    use_helper(user, helper, base)
    labels = {"app": "web"}
    node_port = free_node_port()
    manifest = write_documents(
        user, "np.yaml",
        node_port_service("web", labels, node_port),
        probed_deployment("web", 2, labels))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert f"{node_port}/TCP is published on the host by the network helper of pod web-" in played.stderr
    holder = played.stderr.split("network helper of pod ", 1)[1].split(",")[0]
    replicas = set(ready_of(user))
    assert len(replicas) == 2 and holder in replicas, replicas
    running = {comm for _, comm in helpers_of(user)}
    assert "slirp4netns" in running if helper == "slirp4netns" else any(c.startswith("pas") for c in running)
    other = (replicas - {holder}).pop()
    wait_ready(user, {holder: "1/1", other: "1/1"})

    seen = answers(node_port, 24)
    assert set(seen) == replicas, seen  # both replicas answer through the one published port

    # the holder itself not ready: its helper still takes the port, and sends it all to the other
    assert user.kp("exec", holder, "--", "rm", "/tmp/ready").returncode == 0
    wait_ready(user, {holder: "0/1", other: "1/1"})
    settled(node_port, {other})
    assert set(answers(node_port, 12)) == {other}

    # ready again it is back; the other not ready gets nothing
    assert user.kp("exec", holder, "--", "touch", "/tmp/ready").returncode == 0
    assert user.kp("exec", other, "--", "rm", "/tmp/ready").returncode == 0
    wait_ready(user, {holder: "1/1", other: "0/1"})
    settled(node_port, {holder})
    assert set(answers(node_port, 12)) == {holder}

    # the holder stopped: its helper stays with its namespace, so the port does, sent to the other
    assert user.kp("exec", other, "--", "touch", "/tmp/ready").returncode == 0
    assert user.kp("pod", "stop", "-t", "1", holder).returncode == 0
    wait_ready(user, {holder: "0/1", other: "1/1"})
    settled(node_port, {other})
    assert set(answers(node_port, 12)) == {other}
    # started again it is made anew, and publishes the port again
    assert user.kp("pod", "start", holder).returncode == 0
    wait_ready(user, {holder: "1/1", other: "1/1"})
    settled(node_port, {holder, other})
    assert set(answers(node_port, 24)) == {holder, other}

    down = user.kp("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == [], "conmon, containers or pasta still running after down"
    assert list((user.runroot / "netns").glob("*")) == []


def deployment_of(name: str, labels: dict) -> dict:
    document = probed_deployment(name, 1, labels)
    document["spec"]["selector"]["matchLabels"] = {**labels, "part": name}
    document["spec"]["template"]["metadata"]["labels"] = {**labels, "part": name}
    return document


@pytest.mark.parametrize("helper", ["pasta", "slirp4netns"])
def test_node_port_whose_holder_goes_is_taken_on_by_slirp4netns_or_named_at_down(
        user: RootlessUser, base, helper: str) -> None:
    use_helper(user, helper, base)
    labels = {"app": "web"}
    node_port = free_node_port()
    services = write_documents(user, "svc.yaml", node_port_service("web", labels, node_port),
                               service("peers", {"clusterIP": "None", "selector": labels, "ports": [{"port": 8080}]}))
    first = write_documents(user, "a.yaml", deployment_of("web-a", labels))
    second = write_documents(user, "b.yaml", deployment_of("web-b", labels))
    for manifest in (services, first, second):
        played = user.kp("play", str(manifest))
        assert played.returncode == 0, played.stderr
        if manifest == services:  # rootless pods have no addresses of their own to give a headless name
            assert "warning: Service peers is headless" in played.stderr and "give it a clusterIP" in played.stderr
    pods = ready_of(user)
    holder = next(name for name in pods if name.startswith("web-a-"))
    other = next(name for name in pods if name.startswith("web-b-"))
    wait_ready(user, {holder: "1/1", other: "1/1"})
    assert set(answers(node_port, 16)) == {holder, other}

    down = user.kp("down", str(first))
    assert down.returncode == 0, down.stderr
    if helper == "slirp4netns":  # its helper takes the port on while it runs
        assert "no longer published" not in down.stderr, down.stderr
        assert set(answers(node_port, 6)) == {other}
    else:
        assert (f"warning: Service web: {node_port}/TCP is no longer published on the host" in down.stderr
                and f"({other})" in down.stderr and "`kubeplay play --replace FILE`" in down.stderr), down.stderr
        replaced = user.kp("play", "--replace", str(second))
        assert replaced.returncode == 0, replaced.stderr
        again = next(name for name in ready_of(user) if name.startswith("web-b-"))
        wait_ready(user, {again: "1/1"})
        assert set(answers(node_port, 6)) == {again}
    for manifest in (second, services):
        assert user.kp("down", str(manifest)).returncode == 0
    assert helpers_of(user) == []


# busybox has no UDP tool: the echo servers and the client run from the host, in the pods' network
# namespaces (entered through a container's pid), each server answering with its pod's name
UDP_ECHO = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0',int(sys.argv[1]))); print('bound',flush=True); s.settimeout(60)\n"
            "while True:\n d,a=s.recvfrom(2048); s.sendto(sys.argv[2].encode()+b':'+d,a)")
# a socket of its own for each datagram: one socket's datagrams all go to the endpoint its first one got
UDP_ASK = ("import socket,sys\nfor i in range(int(sys.argv[3])):\n"
           " s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)\n"
           " s.sendto(b'ping',(sys.argv[1],int(sys.argv[2])))\n"
           " try: print(s.recvfrom(2048)[0].decode())\n except socket.timeout: print('-')\n s.close()")


def pid_of(user: RootlessUser, pod_name: str) -> int:
    shown = json.loads(user.kp("pod", "inspect", pod_name, "--format", "json").stdout)[0]
    return next(container["pid"] for container in shown["containers"] if container["pid"])


def in_pod_net(pid: int, *argv: str) -> list[str]:
    return ["timeout", "60", "nsenter", "-t", str(pid), "-n", sys.executable, "-c", *argv]


def ask_udp(address: str, port: int, count: int, pid: int = 0) -> list[str]:
    """The answers to `count` datagrams, each from a socket of its own ("-" for none), sent from the
    network namespace of `pid` (the host's when 0)."""
    argv = in_pod_net(pid, UDP_ASK) if pid else ["timeout", "60", sys.executable, "-c", UDP_ASK]
    asked = subprocess.run([*argv, address, str(port), str(count)], capture_output=True, text=True, timeout=90)
    return asked.stdout.split()


@pytest.mark.parametrize("helper", ["pasta", "slirp4netns"])
def test_udp_through_the_cluster_ip_and_the_node_port_is_answered_by_every_replica(
        user: RootlessUser, base, helper: str) -> None:
    # Debian 12's pasta loses UDP answers across a port number change (rootless/udpports.py works
    # around it), and the node port's holder answers its own share from where it came in
    use_helper(user, helper, base)
    labels = {"app": "echo"}
    node_port = free_node_port()
    replicas = deployment("echo", 2, labels, [{"name": "echo", "containerPort": 5353, "protocol": "UDP"}])
    replicas["spec"]["template"]["spec"]["containers"][0]["command"] = ["sleep", "600"]
    manifest = write_documents(
        user, "udp.yaml",
        service("echo", {"type": "NodePort", "selector": labels, "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "echo", "nodePort": node_port}]}),
        replicas, pod("client", {"name": "c", "image": BUSYBOX, "command": ["sleep", "600"]}))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert f"{node_port}/UDP is published on the host by the network helper of pod echo-" in played.stderr
    assert "spreads it over the Service's ready pods" in played.stderr
    cluster_ip = json.loads(user.kp("services", "--format", "json").stdout)[0]["clusterIP"]
    assert cluster_ip in user_exec(user, "client", "grep -w echo /etc/hosts")  # the name the client would use
    names = {line.split()[0] for line in user.kp("pods").stdout.splitlines()[1:] if line.startswith("echo-")}
    servers = [subprocess.Popen(in_pod_net(pid_of(user, name), UDP_ECHO, "5353", name), stdout=subprocess.PIPE,
                                text=True) for name in sorted(names)]
    try:
        assert [server.stdout.readline().strip() for server in servers] == ["bound", "bound"]
        for seen in (ask_udp(cluster_ip, 53, 16, pid_of(user, "client")), ask_udp("127.0.0.1", node_port, 16)):
            assert len(seen) == 16 and "-" not in seen, seen  # every datagram answered
            assert {answer.removesuffix(":ping") for answer in seen} == names, seen  # by both replicas
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    down = user.kp("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == []


def test_udp_host_port_under_another_number_is_answered_from_the_host_loopback(user: RootlessUser) -> None:
    # the same pasta bug as the Services' forwards, for a hostPort (rootless/udpports.py)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        host_port = probe.getsockname()[1]
    manifest = write_documents(user, "udphost.yaml", pod(
        "udphost", {"name": "c", "image": BUSYBOX, "command": ["sleep", "600"],
                    "ports": [{"containerPort": 5354, "hostPort": host_port, "protocol": "UDP"}]}))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    server = subprocess.Popen(in_pod_net(pid_of(user, "udphost"), UDP_ECHO, "5354", "udphost"),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "bound"
        assert ask_udp("127.0.0.1", host_port, 4) == ["udphost:ping"] * 4
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert user.kp("down", str(manifest)).returncode == 0
    assert helpers_of(user) == []


@pytest.mark.parametrize("helper", ["pasta", "slirp4netns"])
def test_load_balancer_port_is_published_on_the_host_and_spread_over_the_replicas(
        user: RootlessUser, base, helper: str) -> None:
    use_helper(user, helper, base)
    labels = {"app": "web"}
    port = free_port_from(28080)  # above net.ipv4.ip_unprivileged_port_start, below the node ports
    manifest = write_documents(
        user, "lb.yaml",
        service("web", {"type": "LoadBalancer", "selector": labels,
                        "ports": [{"name": "http", "port": port, "targetPort": "http"}]}),
        deployment("web", 2, labels, [{"name": "http", "containerPort": 8080}]))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    node_port = json.loads(user.kp("services", "--format", "json").stdout)[0]["ports"][0]["nodePort"]
    assert f"on the host at {port}/TCP, {node_port}/TCP)" in played.stdout, played.stdout
    assert f"{port}/TCP is published on the host by the network helper of pod web-" in played.stderr
    replicas = {line.split()[0] for line in user.kp("pods").stdout.splitlines()[1:] if line.startswith("web-")}
    assert len(replicas) == 2
    assert set(answers(port, 16)) == replicas  # both replicas answer through the LoadBalancer's port
    assert fetch_http(node_port).strip() in replicas

    down = user.kp("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

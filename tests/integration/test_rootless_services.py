"""A rootless NodePort from the host: spread over the Service's ready replicas, following readiness.

Run by a throwaway unprivileged user, as the other rootless tests (tests/integration/test_rootless.py,
whose fixtures this file shares). The node port is bound by one replica's pasta; that replica's own
table sends each connection to a ready replica (pods/rootlessnodeports.py).
"""

from __future__ import annotations

import time

import pytest

from tests.integration.test_rootless import (  # noqa: F401 (fixtures)
    BUSYBOX,
    RootlessUser,
    base,
    fetch_http,
    free_node_port,
    helpers_of,
    node_port_service,
    path_without_pasta,
    rootfs_tar,
    service,
    user,
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

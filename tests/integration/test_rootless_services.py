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


def test_node_port_from_the_host_reaches_every_ready_replica_and_no_unready_one(user: RootlessUser) -> None:
    labels = {"app": "web"}
    node_port = free_node_port()
    manifest = write_documents(
        user, "np.yaml",
        service("web", {"type": "NodePort", "selector": labels,
                        "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": node_port}]}),
        probed_deployment("web", 2, labels))
    played = user.kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert f"{node_port}/TCP is published on the host by the network helper of pod web-" in played.stderr
    holder = played.stderr.split("network helper of pod ", 1)[1].split(",")[0]
    replicas = set(ready_of(user))
    assert len(replicas) == 2 and holder in replicas, replicas
    other = (replicas - {holder}).pop()
    wait_ready(user, {holder: "1/1", other: "1/1"})

    seen = answers(node_port, 24)
    assert set(seen) == replicas, seen  # both replicas answer through the one published port

    # the holder itself not ready: its helper still takes the port, and sends it all to the other
    assert user.kp("exec", holder, "--", "rm", "/tmp/ready").returncode == 0
    wait_ready(user, {holder: "0/1", other: "1/1"})
    assert set(answers(node_port, 12)) == {other}

    # ready again it is back; the other not ready gets nothing
    assert user.kp("exec", holder, "--", "touch", "/tmp/ready").returncode == 0
    assert user.kp("exec", other, "--", "rm", "/tmp/ready").returncode == 0
    wait_ready(user, {holder: "1/1", other: "0/1"})
    assert set(answers(node_port, 12)) == {holder}

    down = user.kp("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert helpers_of(user) == [], "conmon, containers or pasta still running after down"
    assert list((user.runroot / "netns").glob("*")) == []

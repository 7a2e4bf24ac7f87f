"""Root networking for real: netns, bridge, veth, leases, nftables hostPorts, and full cleanup.

Every test uses its own roots, network, bridge, nftables table and pod names, and checks that it
left no veth, bridge, rule, lease or namespace mount behind. Traffic goes only to 127.0.0.1 and to
addresses inside the namespaces the test made.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import ConflictError, HostError
from kubeplay.model.plan import PortMapping
from kubeplay.net import nftables
from kubeplay.net.netns import create_netns, remove_netns
from kubeplay.net.networks import create_network, remove_network
from kubeplay.net.ports import check_ports, published_claims
from kubeplay.net.subnets import find_overlap, host_routes
from kubeplay.net.veth import attach_pod, detach_pod, host_veth_name, veth_scope
from kubeplay.nsfs import is_namespace_mount
from kubeplay.store.db import open_database
from kubeplay.store.network import leases_of
from tests.support.cli import mount_run_tmpfs, unmount_below

pytestmark = pytest.mark.root
SERVER_LIFETIME = "30"  # seconds: a server the test forgets still dies on its own


def free_test_subnet() -> str:
    routes = host_routes()
    for third in range(200, 240):
        candidate = ipaddress.ip_network(f"10.89.{third}.0/24")
        if find_overlap(candidate, [], routes) is None:
            return str(candidate)
    pytest.skip("no free 10.89.200-239.0/24 for the test network")


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NetEnv:
    def __init__(self, base: Path) -> None:
        tag = secrets.token_hex(3)
        self.base = base
        mount_run_tmpfs(base / "run")  # as systemd's /run: nosuid,nodev,noexec
        self.settings = Settings(root=base / "root", runroot=base / "run" / "kubeplay")
        self.db = open_database(self.settings.root)
        self.network = f"nt-{tag}"
        self.bridge = f"kpt{tag}"
        self.table = f"kubeplay_t{tag}"
        self.pods = [f"pa-{tag}", f"pb-{tag}"]
        self.record = create_network(self.db, self.network, free_test_subnet(), bridge=self.bridge,
                                     nft_table=self.table)
        self.netns: dict[str, Path] = {}
        self.servers: list[subprocess.Popen] = []

    def pod(self, name: str):
        path = create_netns(self.settings, name)
        self.netns[name] = path
        return attach_pod(self.settings, self.db, name, path, self.network)

    def run_in(self, pod: str, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["timeout", "10", "nsenter", f"--net={self.netns[pod]}", *argv],
                              capture_output=True, text=True, timeout=15)

    def serve_in(self, pod: str, *argv: str) -> None:
        # run in the test's own directory: in a shared one (/tmp) a stray http.py shadows `-m http.server`
        self.servers.append(subprocess.Popen(
            ["timeout", SERVER_LIFETIME, "nsenter", f"--net={self.netns[pod]}", *argv],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.base))

    def teardown(self) -> None:
        for server in self.servers:
            server.terminate()
            server.wait(timeout=10)
        for pod in self.pods:
            nftables.unpublish(pod, table=self.table)
            detach_pod(self.settings, self.db, pod, self.network)
        for path in self.netns.values():
            remove_netns(path)
        remove_network(self.db, self.network)
        nftables.remove_table(table=self.table)
        self.db.close()

    def assert_nothing_left(self) -> None:
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert self.bridge not in links
        for pod in self.pods:
            assert host_veth_name(pod, veth_scope(self.settings)) not in links
        ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True).stdout
        assert self.table not in ruleset
        for pod in self.pods:
            assert pod not in ruleset
        db = open_database(self.settings.root)
        assert db.query("SELECT COUNT(*) FROM leases")[0][0] == 0
        db.close()
        mounts = Path("/proc/self/mountinfo").read_text()
        assert str(self.settings.runroot) not in mounts


@pytest.fixture
def env(tmp_path):
    environment = NetEnv(tmp_path)
    try:
        yield environment
    finally:
        environment.teardown()
    try:
        environment.assert_nothing_left()
    finally:
        unmount_below(tmp_path)


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_pods_reach_each_other_and_published_ports_from_localhost(env):
    a, b = env.pods
    net_a, net_b = env.pod(a), env.pod(b)
    assert net_a.ip != net_b.ip and net_a.gateway == env.record.gateway and net_a.bridge == env.bridge
    # the pods see each other by address across the bridge
    assert env.run_in(a, "busybox", "ping", "-c", "1", "-W", "3", net_b.ip).returncode == 0
    assert f"default via {net_a.gateway}" in env.run_in(a, "ip", "route").stdout

    tcp_port, udp_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    ports_a = [PortMapping(container_port=8000, host_port=tcp_port)]
    ports_b = [PortMapping(container_port=5000, protocol="UDP", host_port=udp_port)]
    check_ports(published_claims(table=env.table), ports_a, pod_name=a)
    nftables.publish(a, net_a.ip, ports_a, table=env.table)
    nftables.publish(b, net_b.ip, ports_b, table=env.table)

    env.serve_in(a, sys.executable, "-m", "http.server", "--bind", "0.0.0.0", "8000")
    response = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{tcp_port}/", timeout=3))
    assert response.status == 200

    echo = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5000))\n"
            "while True:\n    data, peer = s.recvfrom(100); s.sendto(b'echo:' + data, peer)")
    env.serve_in(b, sys.executable, "-c", echo)

    def udp_round_trip() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(1)
            client.sendto(b"ping", ("127.0.0.1", udp_port))
            return client.recvfrom(100)[0]

    assert wait_for(udp_round_trip) == b"echo:ping"

    # another pod asking for the same hostPort is refused, naming the holder
    with pytest.raises(ConflictError, match=f"already published by pod \"{a}\""):
        check_ports(published_claims(table=env.table), ports_a, pod_name="someone-else")
    # the same, given the state database: claims are read from the live table
    with pytest.raises(ConflictError, match=f"already published by pod \"{b}\""):
        check_ports(env.db, ports_b, pod_name="someone-else", table=env.table)

    # unpublish removes exactly one pod's rules
    nftables.unpublish(a, table=env.table)
    claims = published_claims(table=env.table)
    assert [claim.pod_name for claim in claims] == [b]


def test_network_in_use_is_not_removed(env):
    a = env.pods[0]
    env.pod(a)
    with pytest.raises(ConflictError, match=a):
        remove_network(env.db, env.network)
    assert [lease.pod_name for lease in leases_of(env.db, env.network)] == [a]


def test_attach_is_idempotent_and_detach_undoes_half_made_attach(env):
    a, b = env.pods
    first = env.pod(a)
    # attaching again (a retried play) rebuilds the veth and keeps the address
    again = attach_pod(env.settings, env.db, a, env.netns[a], env.network)
    assert again.ip == first.ip
    assert env.run_in(a, "ip", "-o", "addr", "show", "eth0").stdout.count(first.ip) == 1
    detach_pod(env.settings, env.db, a, env.network)
    detach_pod(env.settings, env.db, a, env.network)
    assert leases_of(env.db, env.network) == []
    assert not Path("/sys/class/net", host_veth_name(a, veth_scope(env.settings))).exists()

    # an attach that fails halfway (its namespace is gone) leaves neither lease nor veth
    missing = env.settings.runroot / "netns" / "not-there"
    with pytest.raises(HostError):
        attach_pod(env.settings, env.db, b, missing, env.network)
    assert leases_of(env.db, env.network) == []
    assert not Path("/sys/class/net", host_veth_name(b, veth_scope(env.settings))).exists()


def test_network_none_is_loopback_only(env):
    path = create_netns(env.settings, env.pods[0])
    env.netns[env.pods[0]] = path
    assert is_namespace_mount(path)
    assert create_netns(env.settings, env.pods[0]) == path  # idempotent
    links = env.run_in(env.pods[0], "ip", "-o", "link").stdout.splitlines()
    assert len(links) == 1 and ": lo:" in links[0] and "UP" in links[0]
    remove_netns(path)
    remove_netns(path)
    assert not path.exists()


def test_detach_after_the_namespace_is_released_leaves_no_veth_either_way(env):
    """The kernel removes a released namespace's veth pair itself; one still held is deleted."""
    a, b = env.pods
    env.pod(a)
    env.pod(b)
    remove_netns(env.netns.pop(a))  # nothing else holds a's namespace
    detach_pod(env.settings, env.db, a, env.network, namespace_released=True)
    held = subprocess.Popen(["nsenter", f"--net={env.netns[b]}", "sleep", "30"])
    try:
        own = os.readlink("/proc/self/ns/net")
        for _ in range(500):  # until nsenter has entered b's namespace (and become sleep)
            if os.readlink(f"/proc/{held.pid}/ns/net") != own:
                break
            time.sleep(0.01)
        remove_netns(env.netns.pop(b))  # b's namespace lives on in the sleeping process
        detach_pod(env.settings, env.db, b, env.network, namespace_released=True)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    finally:
        held.kill()
        held.wait(timeout=10)
    for pod in (a, b):
        assert host_veth_name(pod, veth_scope(env.settings)) not in links
    assert leases_of(env.db, env.network) == []

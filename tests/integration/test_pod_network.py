"""Pod networking as users see it, through the CLI: hostPorts, names between pods, network none,
hostNetwork, conflicts, parallel plays, bad input, and `system reset`.

Each test plays on its own network (`network create` with a free subnet, `play --network`), so it
never touches the default network, and checks at the end that no veth, bridge, rule, lease or
mount of it is left. Traffic goes only to 127.0.0.1 and into namespaces these tests made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kubeplay.net.subnets import find_overlap, host_routes
from kubeplay.net.veth import host_veth_name
from kubeplay.store.db import open_database
from tests.integration.conftest import BUSYBOX, PodRunner, conmon_pids_for
from tests.support.cli import KubeplayRunner

pytestmark = pytest.mark.root
UDP_ECHO = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',int(sys.argv[1])));"
            "s.settimeout(30)\nwhile True:\n d,a=s.recvfrom(2048); s.sendto(b'echo:'+d,a)")


def sh(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script], **extra}


def httpd(name: str = "server", page: str = "served-page", port: int = 8080, **extra: object) -> dict:
    return sh(name, f"mkdir -p /www && echo {page} > /www/index.html && exec httpd -f -p {port} -h /www", **extra)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout


class Net:
    """A test's own network on top of the `pods` runner, and the checks that it left nothing."""

    def __init__(self, pods) -> None:
        self.pods = pods
        self.tag = secrets.token_hex(3)
        self.name = f"pn-{self.tag}"
        self.subnet = self._create()
        self.bridge = self.info()["bridge"]

    def _create(self) -> str:
        routes = host_routes()
        # outside the default network's pool (10.89.0.0/16): a store's default network is only a record
        # until its first pod, so it could pick the same subnet as a test network not yet bridged
        for third in range(160, 200):
            candidate = ipaddress.ip_network(f"10.90.{third}.0/24")
            if find_overlap(candidate, [], routes) is not None:
                continue
            result = self.pods("network", "create", self.name, "--subnet", str(candidate))
            if result.returncode == 0:
                return str(candidate)
        pytest.skip("no free 10.90.160-199.0/24 for the test network")

    def info(self) -> dict:
        result = self.pods("network", "inspect", self.name)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def pod_name(self, base: str) -> str:
        return f"{base}-{self.tag}"

    def play(self, *documents: dict, file: str = "pods.yaml", network: str | None = None):
        manifest = self.pods.write(file, *documents)
        return manifest, self.pods("play", "--network", network or self.name, str(manifest))

    def pod_ip(self, pod: str) -> str:
        return self.pods.inspect(pod)["ip"]

    def netns_of(self, pod: str) -> Path:
        return self.pods.kp.runroot / "netns" / self.pods.inspect(pod)["id"]

    def exec(self, pod: str, script: str, container: str | None = None, namespace: str = "default") -> str:
        args = ["exec", "-n", namespace, pod] + (["-c", container] if container else []) + ["--", "sh", "-c", script]
        result = self.pods(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def leases(self) -> list[tuple[str, str]]:
        db = open_database(self.pods.kp.root)
        try:
            return [(row["pod_name"], row["ip"]) for row in db.query("SELECT pod_name, ip FROM leases")]
        finally:
            db.close()

    def assert_pods_gone(self, names: list[str]) -> None:
        """After down: no veth on the bridge, no rule and no lease of these pods."""
        links = run("ip", "-o", "link")
        for name in names:
            assert host_veth_name(name, str(self.pods.kp.root)) not in links
        ruleset = run("nft", "list", "ruleset")
        for name in names:
            assert f"pod {name}" not in ruleset and f"pod-{name}" not in ruleset
        leased = {pod for pod, _ in self.leases()}
        assert not leased & set(names), leased

    def _bridge_up(self) -> bool:
        return Path("/sys/class/net", self.bridge).exists()

    def remove(self) -> None:
        self.pods.remove_everything()
        removed = self.pods("network", "rm", self.name)
        assert removed.returncode == 0, removed.stderr
        assert "not found" in self.pods("network", "inspect", self.name).stderr
        assert not self._bridge_up(), f"bridge {self.bridge} left"
        ruleset = run("nft", "list", "ruleset")
        assert f"net-{self.bridge}" not in ruleset and self.subnet not in ruleset
        assert self.leases() == []


@pytest.fixture
def net(pods):
    network = Net(pods)
    try:
        yield network
    finally:
        network.remove()


def wait_for(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def http_get(port: int, host: str = "127.0.0.1") -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3) as response:
        assert response.status == 200
        return response.read().decode()


def test_http_get_to_a_tcp_hostport_returns_the_page(net):
    port = free_port()
    pod = net.pod_name("web")
    _, result = net.play(net.pods.pod(pod, httpd(ports=[{"containerPort": 8080, "hostPort": port}])))
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: http_get(port), what="page on the hostPort") == "served-page\n"
    ip = net.pod_ip(pod)
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(net.subnet)
    assert net.leases() == [(pod, ip)]
    assert http_get(8080, ip) == "served-page\n"  # the pod address itself, through our bridge


def test_pods_of_one_name_in_two_stores_keep_their_own_host_ports(net, rootfs_tar):
    """Pod names, network names, subnets and bridge names can repeat across stores: one store's play,
    rm or reset must not touch another's rules or bridge, and a clash is refused, not shared."""
    other = PodRunner(KubeplayRunner(Path(tempfile.mkdtemp(prefix="kp-", dir="/tmp"))))
    try:
        imported = other("image", "import", str(rootfs_tar), BUSYBOX, "--change", 'CMD ["sh"]')
        assert imported.returncode == 0, imported.stderr
        # recorded while the first store's bridge is not up yet: the same subnet is accepted here
        clash = other("network", "create", net.name, "--subnet", net.subnet)
        assert clash.returncode == 0, clash.stderr
        pod = net.pod_name("web")
        port_a, port_b = free_port(), free_port()
        _, played = net.play(net.pods.pod(pod, httpd(page="store-a", ports=[{"containerPort": 8080, "hostPort": port_a}])))
        assert played.returncode == 0, played.stderr
        manifest = other.write("web.yaml", other.pod(pod, httpd(page="store-b",
                                                               ports=[{"containerPort": 8080, "hostPort": port_b}])))
        refused = other("play", "--network", net.name, str(manifest))
        assert refused.returncode != 0
        assert "belongs to another kubeplay store" in refused.stderr or "overlaps the host route" in refused.stderr
        assert other("pods", "--format", "json").stdout.strip() in ("", "[]")
        other_net = Net(other)  # now that the first network's bridge is up, a free subnet and bridge
        _, played = other_net.play(other.pod(pod, httpd(page="store-b", ports=[{"containerPort": 8080, "hostPort": port_b}])))
        assert played.returncode == 0, played.stderr
        assert wait_for(lambda: http_get(port_b), what="the second store's page") == "store-b\n"
        assert wait_for(lambda: http_get(port_a), what="the first store's page") == "store-a\n"
        removed = other("pod", "rm", "-f", "-t", "0", pod)
        assert removed.returncode == 0, removed.stderr
        assert http_get(port_a) == "store-a\n"
    finally:
        other.kp.cleanup()  # a reset: the first store's bridge and rules stay
    assert http_get(port_a) == "store-a\n"
    assert Path("/sys/class/net", net.bridge).exists()


def _connects_without_stalling(port: int, deadline: float) -> bool:
    """A refused connection (the server not up yet) is retried; an unanswered one fails at once."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except ConnectionRefusedError:
            time.sleep(0.05)
        except TimeoutError:
            return False
    return False


def test_a_replayed_pod_keeps_its_address_and_mac_and_answers_at_once(net):
    """The address of a pod that went away is leased again; its MAC is made from the address, so
    the host's neighbour entry for it stays right and the first connection is answered (a new
    random MAC left the host sending to the old one for ~5 s)."""
    port = free_port()
    pod = net.pod_name("again")
    manifest, result = net.play(net.pods.pod(pod, httpd(ports=[{"containerPort": 8080, "hostPort": port}])))
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: http_get(port), what="page on the hostPort") == "served-page\n"
    ip, mac = net.pod_ip(pod), net.exec(pod, "cat /sys/class/net/eth0/address").strip()
    assert mac == "0a:58:" + ":".join(f"{int(part):02x}" for part in ip.split("."))
    assert net.pods("down", str(manifest)).returncode == 0
    replayed = net.pods("play", "--network", net.name, str(manifest))
    assert replayed.returncode == 0, replayed.stderr
    assert (net.pod_ip(pod), net.exec(pod, "cat /sys/class/net/eth0/address").strip()) == (ip, mac)
    assert _connects_without_stalling(port, time.monotonic() + 15), "a connection to the replayed pod went unanswered"
    assert http_get(port) == "served-page\n"


def test_udp_hostport_round_trips_a_datagram(net):
    port = free_port(socket.SOCK_DGRAM)
    pod = net.pod_name("udp")
    udp_port = {"containerPort": 9090, "hostPort": port, "protocol": "UDP"}
    _, result = net.play(net.pods.pod(pod, sh("idle", "sleep 3600", ports=[udp_port])))
    assert result.returncode == 0, result.stderr
    # busybox has no UDP tool: the echo server runs from the host inside the pod's own netns
    server = subprocess.Popen(["timeout", "30", "nsenter", f"--net={net.netns_of(pod)}",
                               sys.executable, "-c", UDP_ECHO, "9090"])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(0.5)

            def round_trip() -> bytes:
                client.sendto(b"ping", ("127.0.0.1", port))
                try:
                    return client.recvfrom(2048)[0]
                except socket.timeout:
                    return b""

            assert wait_for(round_trip, what="UDP echo") == b"echo:ping"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_pods_reach_each_other_by_name_and_hosts_follow_plays_and_downs(net):
    a, b, c = net.pod_name("pa"), net.pod_name("pb"), net.pod_name("pc")
    manifest, result = net.play(
        net.pods.pod(a, httpd(page="from-a"),
                     hostAliases=[{"ip": "10.1.2.3", "hostnames": ["alias-one", "alias-two"]}]),
        net.pods.pod(b, sh("client", f"for i in $(seq 1 100); do wget -q -O - http://{a}:8080/ && break; "
                                     "sleep 0.2; done; sleep 3600")),
    )
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: "from-a" in net.pods.logs(b, "client"), what=f"{b} fetching from {a} by name")
    ip_a, ip_b = net.pod_ip(a), net.pod_ip(b)
    hosts_a = net.exec(a, "cat /etc/hosts")
    assert f"{ip_b}\t{b} {b}.default" in hosts_a  # played after a, in the same play
    assert "10.1.2.3\talias-one\talias-two" in hosts_a
    assert f"{ip_a}\t{a} {a}.default" in net.exec(b, "cat /etc/hosts")

    _, later = net.play(net.pods.pod(c, sh("idle", "sleep 3600")), file="later.yaml")
    assert later.returncode == 0, later.stderr
    ip_c = net.pod_ip(c)
    assert f"{ip_c}\t{c}" in net.exec(a, "cat /etc/hosts")  # earlier pods learn of later ones
    assert net.exec(b, f"wget -q -O - http://{a}.default:8080/").strip() == "from-a"

    down = net.pods("down", str(net.pods.manifests / "later.yaml"))
    assert down.returncode == 0, down.stderr
    assert c not in net.exec(a, "cat /etc/hosts")  # and forget them on down
    assert c not in net.exec(b, "cat /etc/hosts")
    net.assert_pods_gone([c])
    assert net.pods("down", str(manifest)).returncode == 0
    net.assert_pods_gone([a, b])


def test_network_none_has_only_loopback(pods, net):
    pod = net.pod_name("lonely")
    _, result = net.play(pods.pod(pod, sh("idle", "sleep 3600")), network="none")
    assert result.returncode == 0, result.stderr
    devices = [line.split(":")[0].strip() for line in net.exec(pod, "cat /proc/net/dev").splitlines()[2:]]
    assert devices == ["lo"]
    assert net.exec(pod, "cat /sys/class/net/lo/operstate").strip() in ("unknown", "up")
    assert net.pod_ip(pod) == ""
    assert net.leases() == []

    port = free_port()
    refused = pods("play", "--network", "none", str(pods.write("none-port.yaml", pods.pod(
        net.pod_name("np"), httpd(ports=[{"containerPort": 8080, "hostPort": port}])))))
    refused.assert_fails_cleanly((1,), mentions=("network none",))


def test_conflicting_hostport_is_refused_before_anything_starts(pods, net):
    port = free_port()
    holder = net.pod_name("holder")
    _, first = net.play(pods.pod(holder, httpd(ports=[{"containerPort": 8080, "hostPort": port}])))
    assert first.returncode == 0, first.stderr
    conmons_before = conmon_pids_for(pods.kp.runroot)
    intruder = net.pod_name("intruder")
    _, second = net.play(pods.pod(intruder, httpd(ports=[{"containerPort": 80, "hostPort": port}])),
                         file="intruder.yaml")
    line = second.assert_fails_cleanly((1,), mentions=(str(port), holder))
    assert "already published" in line
    assert conmon_pids_for(pods.kp.runroot) == conmons_before  # not one container more
    assert intruder not in pods("pods", "--format", "json").stdout
    assert intruder not in {name for name, _ in net.leases()}
    assert intruder not in run("nft", "list", "ruleset")

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        _, third = net.play(pods.pod(intruder, httpd(ports=[{"containerPort": 80, "hostPort": taken}])),
                            file="host-held.yaml")
        line = third.assert_fails_cleanly((1,), mentions=(str(taken), "in use on the host"))
        assert f"pid {os.getpid()}" in line  # the holder is named
    assert conmon_pids_for(pods.kp.runroot) == conmons_before
    assert intruder not in pods("pods", "--format", "json").stdout


def test_twenty_parallel_plays_get_distinct_addresses(pods, net):
    names = [net.pod_name(f"par{i}") for i in range(20)]
    manifests = [pods.write(f"par{i}.yaml", pods.pod(name, sh("idle", "sleep 3600")))
                 for i, name in enumerate(names)]

    def play(manifest: Path):
        return pods("play", "--network", net.name, str(manifest), timeout=240)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(play, manifests))
    for result in results:
        assert result.returncode == 0, result.stderr
    addresses = {name: net.pod_ip(name) for name in names}
    assert len(set(addresses.values())) == 20, addresses
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(net.subnet) for ip in addresses.values())
    assert sorted(net.leases()) == sorted(addresses.items())
    links = run("ip", "-o", "link", "show", "master", net.bridge)
    assert len(links.strip().splitlines()) == 20

    with ThreadPoolExecutor(max_workers=20) as pool:
        downs = list(pool.map(lambda manifest: pods("down", str(manifest), timeout=240), manifests))
    for result in downs:
        assert result.returncode == 0, result.stderr
    net.assert_pods_gone(names)
    assert net.leases() == []
    assert run("ip", "-o", "link", "show", "master", net.bridge).strip() == ""


def test_host_network_shares_the_hosts_netns_and_hostname(pods, net):
    pod = net.pod_name("hostnet")
    _, result = net.play(pods.pod(pod, sh("idle", "sleep 3600"), hostNetwork=True))
    assert result.returncode == 0, result.stderr
    shown = net.exec(pod, "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname").split()
    assert shown[0] == os.readlink("/proc/self/ns/net")
    assert shown[1] == os.readlink("/proc/self/ns/uts")
    assert shown[2] == os.uname().nodename
    assert net.pod_ip(pod) == ""
    assert net.leases() == []
    pinned = (pods.kp.runroot / "netns")
    # no network namespace (<pod-id>); the pod's own IPC namespace is pinned there as <pod-id>.ipc
    assert not pinned.exists() or [p.name for p in pinned.iterdir() if not p.name.endswith(".ipc")] == []


@pytest.mark.parametrize("args, mentions", [
    (("network", "create", "bad-{tag}", "--subnet", "10.89.300.0/24"), ("invalid subnet",)),
    (("network", "create", "bad-{tag}", "--subnet", "10.89.5.7/24"), ("invalid subnet",)),
    (("network", "create", "bad-{tag}", "--subnet", "{subnet}"), ("overlaps", "{name}")),
])
def test_bad_network_input_is_one_clear_error(pods, net, args, mentions):
    values = {"tag": net.tag, "subnet": net.subnet, "name": net.name}
    result = pods(*(arg.format(**values) for arg in args))
    result.assert_fails_cleanly((1,), mentions=tuple(text.format(**values) for text in mentions))
    listed = json.loads(pods("network", "ls", "--format", "json").stdout)
    assert [network["name"] for network in listed] == [net.name]  # nothing half-made


def test_unknown_network_and_out_of_range_hostport_make_nothing(pods, net):
    manifest = pods.write("u.yaml", pods.pod(net.pod_name("u"), httpd()))
    unknown = pods("play", "--network", f"missing-{net.tag}", str(manifest))
    unknown.assert_fails_cleanly((1,), mentions=(f"missing-{net.tag}", "not found"))
    _, out_of_range = net.play(pods.pod(net.pod_name("r"), httpd(ports=[{"containerPort": 8080, "hostPort": 70000}])),
                               file="r.yaml")
    out_of_range.assert_fails_cleanly((1,), mentions=("70000",))
    assert json.loads(pods("pods", "--format", "json").stdout or "[]") == []
    assert conmon_pids_for(pods.kp.runroot) == []
    assert net.leases() == []
    listed = json.loads(pods("network", "ls", "--format", "json").stdout)
    assert [network["name"] for network in listed] == [net.name]  # no default network made either


def test_system_reset_names_the_stray_namespaces_and_mounts_it_takes_down(kp):
    """A namespace pinned for a pod whose record was lost (a play killed halfway) and a mount below the
    run root that no pod owns: reset takes both down and says so, one line each."""
    from kubeplay.config import Settings
    from kubeplay.net.netns import pin_pod_namespaces

    pinned = pin_pod_namespaces(Settings(root=kp.root, runroot=kp.runroot), "lost-pod", ["network"])["network"]
    stray = kp.runroot / "stray"
    stray.mkdir(parents=True)
    run("mount", "-t", "tmpfs", "tmpfs", str(stray))
    done = kp("system", "reset", "--force")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"removed namespace {pinned}" in lines and f"removed mount {stray}" in lines, done.stdout
    assert not kp.runroot.exists() and kp.leftover_mounts() == []


def test_system_reset_removes_pods_networks_rules_and_files(pods):
    network = Net(pods)
    port = free_port()
    pod = network.pod_name("doomed")
    _, result = network.play(pods.pod(pod, httpd(ports=[{"containerPort": 8080, "hostPort": port}])))
    assert result.returncode == 0, result.stderr
    wait_for(lambda: http_get(port), what="page before reset")

    declined = pods("system", "reset", input="n\n")
    declined.assert_fails_cleanly((1,), mentions=("cancelled",))
    assert pod in pods("pods", "--format", "json").stdout

    done = pods("system", "reset", "--force")
    assert done.returncode == 0, done.stderr
    assert f"removed pod {pod}" in done.stdout and f"removed network {network.name}" in done.stdout
    # the pod's removal took its namespaces and mounts: reset had no strays to take down
    assert "removed namespace" not in done.stdout and "removed mount" not in done.stdout, done.stdout
    assert not pods.kp.root.exists() and not pods.kp.runroot.exists()
    assert not Path("/sys/class/net", network.bridge).exists()
    assert conmon_pids_for(pods.kp.runroot) == []
    ruleset = run("nft", "list", "ruleset")
    assert pod not in ruleset and f"net-{network.bridge}" not in ruleset and network.subnet not in ruleset
    with pytest.raises(OSError):
        http_get(port)
    if "inet kubeplay" not in ruleset:
        assert "removed nftables table kubeplay" in done.stdout
    else:  # kept only because another store still has chains in it
        assert "kept nftables table kubeplay" in done.stdout

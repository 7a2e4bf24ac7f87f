"""Services for real: cluster IPs spread over replicas, names in every pod, node ports on the host,
UDP, headless names, endpoints following plays, downs and exits, and nothing left in nft.

Each test plays on its own network (see test_pod_network.Net). Traffic goes only to 127.0.0.1,
to cluster IPs whose rules the test has just seen in nft (they are DNATed to its own pods), and to
its pods' addresses; no test looks a name up over DNS.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubeplay.net.services import TABLE, service_key
from tests.integration.conftest import BUSYBOX
from tests.integration.test_pod_network import UDP_ECHO, Net, free_port, sh, wait_for
from tests.support.cli import skip_inside_a_chroot

pytestmark = pytest.mark.root
PAGE_IS_HOSTNAME = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


def nft_table() -> str:
    done = subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True, text=True, timeout=30)
    return done.stdout if done.returncode == 0 else ""


class Services:
    """A test's network plus helpers for Services on it."""

    def __init__(self, pods) -> None:
        self.net = Net(pods)
        self.pods = pods
        self.scope = str(pods.kp.root)
        self.files: list[Path] = []

    def play(self, file: str, *documents: dict, replace: bool = False):
        path = self.pods.write(file, *documents)
        if path not in self.files:
            self.files.append(path)
        args = ["play", "--network", self.net.name] + (["--replace"] if replace else []) + [str(path)]
        return self.pods(*args)

    def down(self, file: str):
        return self.pods("down", str(self.pods.manifests / file))

    def listing(self) -> dict[str, dict]:
        result = self.pods("services", "-A", "--format", "json")
        assert result.returncode == 0, result.stderr
        return {f"{row['namespace']}/{row['name']}": row for row in json.loads(result.stdout)}

    def key(self, namespace: str, name: str) -> str:
        return service_key(namespace, name, self.scope)

    def routed(self, namespace: str, name: str) -> dict:
        """The Service's listing row, once nft holds its cluster IP (only then is it safe to send to it)."""
        row = self.listing()[f"{namespace}/{name}"]
        assert f"{row['clusterIP']} . tcp" in nft_table() or f"{row['clusterIP']} . udp" in nft_table()
        return row

    def assert_gone(self, namespace: str, name: str) -> None:
        table = nft_table()
        assert self.key(namespace, name) not in table, table
        assert f"{namespace}/{name}" not in self.listing()

    def exec(self, pod: str, script: str, namespace: str = "default") -> str:
        return self.net.exec(pod, script, namespace=namespace)

    def cleanup(self) -> None:
        for path in reversed(self.files):
            self.pods("down", str(path))
        table = nft_table()
        assert not any(line.strip().startswith("chain") and f".{self.key('x', 'y').rsplit('.', 1)[1]}_" in line
                       for line in table.splitlines()), table
        self.net.remove()  # the pods, then the test's network
        ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True).stdout
        assert not re.search(rf"\bnet-{self.net.bridge}\b", ruleset), f"chain of bridge {self.net.bridge} left"
        assert not Path("/sys/class/net", self.net.bridge).exists(), f"bridge {self.net.bridge} left"


@pytest.fixture
def svc(pods):
    env = Services(pods)
    try:
        yield env
    finally:
        env.cleanup()


def deployment(name: str, replicas: int, labels: dict, namespace: str = "default", **container: object) -> dict:
    spec = {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                            "command": ["/bin/sh", "-c", PAGE_IS_HOSTNAME], **container}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def service(name: str, spec: dict, namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pod(name: str, container: dict, namespace: str = "default", labels: dict | None = None, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [container], **spec}}


def replica_names(svc: Services, prefix: str) -> set[str]:
    return {row["name"] for row in json.loads(svc.pods("pods", "-A", "--format", "json").stdout)
            if row["name"].startswith(prefix)}


def glibc_lookup(hosts_text: str, directory: Path, *args: str) -> str:
    """The host's getent (glibc) reading a pod's /etc/hosts, in a mount namespace of its own."""
    copy = directory / "pod-hosts"
    copy.write_text(hosts_text)
    done = subprocess.run(["unshare", "--mount", "sh", "-c", f'mount --bind "$0" /etc/hosts && exec getent "$@"',
                           str(copy), *args], capture_output=True, text=True, timeout=30)
    return done.stdout


def test_cluster_ip_reaches_every_replica_by_every_name(svc, tmp_path):
    ns = "shop"
    labels = {"app": "web"}
    played = svc.play("app.yaml",
                      service("web", {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}, ns),
                      deployment("web", 3, labels, ns, ports=[{"name": "http", "containerPort": 8080}]),
                      pod("client", sh("c", "sleep 3600"), ns))
    assert played.returncode == 0, played.stderr
    assert "service/web created (ClusterIP 10.96." in played.stdout or "service/web created (ClusterIP " in played.stdout
    row = svc.routed(ns, "web")
    replicas = replica_names(svc, "web-")
    assert len(replicas) == 3 and len(row["endpoints"]) == 3
    assert {e["ports"][0] for e in row["endpoints"]} == {8080}  # the named targetPort, resolved per pod

    for name in ("web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"):
        assert svc.exec("client", f"wget -q -O - http://{name}/", ns).strip() in replicas, name
    seen = set(svc.exec("client", "for i in $(seq 1 60); do wget -q -O - http://web/; done", ns).split())
    assert seen == replicas  # spread over all three within 60 connections

    env = svc.exec("client", "env", ns)
    assert f"WEB_SERVICE_HOST={row['clusterIP']}" in env and "WEB_SERVICE_PORT=80" in env
    assert "search shop.svc.cluster.local svc.cluster.local cluster.local" in svc.exec("client", "cat /etc/resolv.conf", ns)
    hosts = svc.exec("client", "cat /etc/hosts", ns)
    assert glibc_lookup(hosts, tmp_path, "hosts", "web").split()[0] == row["clusterIP"]
    assert glibc_lookup(hosts, tmp_path, "hosts", "web.shop.svc.cluster.local").split()[0] == row["clusterIP"]

    # hairpin: a replica reaching the Service that selects it, itself included
    one = sorted(replicas)[0]
    answers = svc.exec(one, "for i in $(seq 1 30); do wget -q -O - http://web.shop/ || echo failed; done", ns).split()
    assert "failed" not in answers and one in answers

    down = svc.down("app.yaml")
    assert down.returncode == 0, down.stderr
    assert "service/web deleted" in down.stdout
    svc.assert_gone(ns, "web")
    assert row["clusterIP"] not in nft_table()


# busybox httpd gives a CGI script the client's address: the page says whom the server saw; the
# slow page holds its connection open for a while
PAGE_IS_CLIENT_ADDRESS = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/addr"
                          " && printf '#!/bin/sh\\nsleep 2\\necho\\n' > /www/cgi-bin/slow"
                          " && chmod +x /www/cgi-bin/addr /www/cgi-bin/slow && exec httpd -f -p 8080 -h /www")


def seen_address(page: str) -> str:
    """The address the CGI page shows, without the IPv4-mapped dress busybox httpd puts on it."""
    return page.strip().removeprefix("[::ffff:").removesuffix("]")


def connect_hook_holds(cluster_ip: str, port: int) -> bool:
    from kubeplay.net.socketlb import entries

    return f"{cluster_ip}:{port}" in entries()


def tcp_peers(table: str) -> set[str]:
    """IP:PORT of every connected TCP socket's far end, from a /proc/net/tcp text."""
    peers = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "01":  # ESTABLISHED
            address, port = fields[2].split(":")
            ip = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            peers.add(f"{ip}:{int(port, 16)}")
    return peers


PEER_NAME = """
import socket, sys
with open(sys.argv[1], "w") as procs:
    procs.write("0")  # this process joins the container's cgroup
host = sys.argv[2]
with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as conn:
    conn.settimeout(5)
    conn.connect((host, int(sys.argv[3])))
    conn.sendall(b"GET /cgi-bin/addr HTTP/1.0\\r\\n\\r\\n")
    answer = b""
    while chunk := conn.recv(4096):
        answer += chunk
    peer, local_port = conn.getpeername(), conn.getsockname()[1]
    # where the kernel has the socket connected: /proc/net/tcp6 (or tcp) of this namespace
    table = "/proc/net/tcp6" if conn.family == socket.AF_INET6 else "/proc/net/tcp"
    for line in open(table).read().splitlines()[1:]:
        local, remote = line.split()[1:3]
        if int(local.split(":")[1], 16) == local_port:
            address, remote_port = remote.split(":")
            word = bytes.fromhex(address[-8:])[::-1]  # the IPv4 address (the last word for IPv6)
            kernel_peer = "%s:%d" % (socket.inet_ntoa(word), int(remote_port, 16))
    print("%s:%d" % peer[:2], answer.decode().strip().splitlines()[-1], kernel_peer)  # the page's last line
"""


def peer_name_from_pod(svc, pod: str, ip: str, port: int) -> str:
    """getpeername(2) of a TCP socket connected to IP:PORT by a process of the pod (its network
    namespace and its first container's cgroup), then what the address page answered; an IPv4-mapped
    IP (::ffff:A.B.C.D) is connected to from an IPv6 socket."""
    from kubeplay.net.socketlb import pods_cgroup

    inspected = svc.net.pods.inspect(pod)
    cgroup = pods_cgroup() / f"pod-{inspected['id']}" / inspected["containers"][0]["id"]
    done = subprocess.run(["nsenter", f"--net={svc.net.netns_of(pod)}", sys.executable, "-c", PEER_NAME,
                           str(cgroup / "cgroup.procs"), ip, str(port)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def bridged_netfilter(bridge: str) -> bool:
    try:
        return Path("/sys/class/net", bridge, "bridge", "nf_call_iptables").read_text().strip() == "1"
    except OSError:
        return False


def test_a_pod_reaching_another_through_a_service_keeps_its_address_and_hairpins_answer(svc):
    host_port = free_port()
    server = pod("server", sh("web", PAGE_IS_CLIENT_ADDRESS, ports=[{"containerPort": 8080, "hostPort": host_port}]),
                 labels={"app": "addr"})
    played = svc.play("app.yaml", service("addr", {"selector": {"app": "addr"}, "ports": [{"port": 80, "targetPort": 8080}]}),
                      server, pod("client", sh("c", "sleep 3600")))
    assert played.returncode == 0, played.stderr
    client_ip, server_ip = svc.net.pod_ip("client"), svc.net.pod_ip("server")
    gateway = svc.net.info()["gateway"]

    cluster_ip = svc.routed("default", "addr")["clusterIP"]
    # as on Kubernetes, the server sees the client pod's own address: a TCP connection is sent to the
    # endpoint when it connects (the pods' connect hook), or its answers are translated back by the
    # bridge's connection tracking; without either, the connection is masqueraded
    hooked = connect_hook_holds(cluster_ip, 80)
    tracked = bridged_netfilter(svc.net.bridge)
    assert seen_address(svc.exec("client", "wget -q -O - http://addr/cgi-bin/addr")) == (
        client_ip if hooked or tracked else gateway)
    # another pod's hostPort at the host's address on the bridge: DNATed on the way
    assert seen_address(svc.exec("client", f"wget -q -O - http://{gateway}:{host_port}/cgi-bin/addr")) == (
        client_ip if tracked else gateway)
    # the server reaching itself, through its Service and through its own hostPort, gets its answers:
    # straight to itself when the hook chose it, masqueraded when DNATed (or they would never leave it)
    assert seen_address(svc.exec("server", "wget -q -O - http://addr/cgi-bin/addr")) == (
        server_ip if hooked else gateway)
    assert seen_address(svc.exec("server", f"wget -q -O - http://{gateway}:{host_port}/cgi-bin/addr")) == gateway
    assert server_ip != gateway

    # with the hook, the client's socket is connected to the endpoint itself: no packet of it is
    # translated on the way
    sockets = svc.exec("client", "wget -q -O /dev/null http://addr/cgi-bin/slow & sleep 1; cat /proc/net/tcp; wait")
    assert (f"{server_ip}:8080" if hooked else f"{cluster_ip}:80") in tcp_peers(sockets)
    # ... while the socket names the cluster IP as its peer, as through kube-proxy's translation; an
    # IPv6 socket reaching it at its IPv4-mapped address is sent straight to the endpoint too
    connected = f"{server_ip}:8080" if hooked else f"{cluster_ip}:80"  # in the kernel's socket table
    peer, seen, kernel_peer = peer_name_from_pod(svc, "client", cluster_ip, 80).split()
    assert (peer, seen_address(seen), kernel_peer) == (f"{cluster_ip}:80", client_ip if hooked or tracked else gateway,
                                                       connected)
    peer, seen, kernel_peer = peer_name_from_pod(svc, "client", f"::ffff:{cluster_ip}", 80).split()
    assert (peer, seen_address(seen), kernel_peer) == (f"::ffff:{cluster_ip}:80",
                                                       client_ip if hooked or tracked else gateway, connected)
    if hooked:
        # an entry the rules do not hold (left by a failed write, say) goes with the next change
        from kubeplay.net.socketlb import write_entries

        write_entries({(cluster_ip, 81)}, {(cluster_ip, 81): ((server_ip, 8080),)})
        assert connect_hook_holds(cluster_ip, 81)
        removed = svc.net.pods("pod", "rm", "-f", "-t", "0", "server")  # the Service's endpoints change
        assert removed.returncode == 0, removed.stderr
        assert not connect_hook_holds(cluster_ip, 81)
        assert not connect_hook_holds(cluster_ip, 80)  # no endpoint left: nft refuses it
        played = svc.down("app.yaml")
        assert played.returncode == 0, played.stderr
        assert not connect_hook_holds(cluster_ip, 80)


def test_endpoints_follow_files_played_in_any_order_and_exits(svc):
    labels = {"app": "api"}
    first = svc.play("svc.yaml", service("api", {"type": "NodePort", "selector": labels,
                                                 "ports": [{"port": 80, "targetPort": 8080}]}))
    assert first.returncode == 0, first.stderr
    assert "selects no pods" in first.stderr
    row = svc.routed("default", "api")
    node_port = row["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767 and row["endpoints"] == []
    assert svc.play("client.yaml", pod("client", sh("c", "sleep 3600"))).returncode == 0

    # no endpoints: refused at once, from a pod and from the host
    started = time.monotonic()
    refused = svc.exec("client", "wget -q -O - http://api/ 2>&1; echo rc=$?")
    assert "refused" in refused.lower() and "rc=1" in refused, refused
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", node_port), timeout=5).close()
    assert time.monotonic() - started < 10

    # the Deployment comes after its Service, a second file adds another pod behind it
    assert svc.play("backend-a.yaml", deployment("api-a", 1, labels)).returncode == 0
    [a] = replica_names(svc, "api-a-")
    assert svc.exec("client", "wget -q -O - http://api/").strip() == a
    with socket.create_connection(("127.0.0.1", node_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert a in conn.makefile("rb").read().decode()
    b_pod = pod("api-b", sh("web", PAGE_IS_HOSTNAME), labels=labels, restartPolicy="Never")
    assert svc.play("backend-b.yaml", b_pod).returncode == 0
    seen = set(svc.exec("client", "for i in $(seq 1 40); do wget -q -O - http://api/; done").split())
    assert seen == {a, "api-b"}

    # down of one file leaves the other file's pods behind the Service
    assert svc.down("backend-a.yaml").returncode == 0
    assert set(svc.exec("client", "for i in $(seq 1 10); do wget -q -O - http://api/; done").split()) == {"api-b"}

    # a container that ends (restartPolicy Never) leaves the endpoints through the exit callback
    pid = svc.pods.container("api-b", "web")["pid"]
    subprocess.run(["kill", "-KILL", str(pid)], check=True)
    wait_for(lambda: "sep-" + svc.key("default", "api") not in nft_table(), what="api-b to leave the rules")
    assert svc.listing()["default/api"]["endpoints"] == []

    assert svc.down("svc.yaml").returncode == 0
    svc.assert_gone("default", "api")
    assert "api" not in svc.exec("client", "cat /etc/hosts").split()


def test_udp_through_node_port_and_cluster_ip_to_a_named_port(svc):
    labels = {"app": "echo"}
    server = pod("echo", sh("idle", "sleep 3600", ports=[{"name": "echo", "containerPort": 5353, "protocol": "UDP"}]),
                 labels=labels)
    spec = {"type": "NodePort", "selector": labels,
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "echo"}]}
    played = svc.play("udp.yaml", service("echo", spec), server, pod("client", sh("c", "sleep 3600")))
    assert played.returncode == 0, played.stderr
    row = svc.listing()["default/echo"]
    assert f"{row['clusterIP']} . udp . 53" in nft_table()
    assert row["endpoints"][0]["ports"] == [5353]
    # busybox has no UDP tool: the echo server and the pod's client run from the host in the pods' netns
    echo = subprocess.Popen(["timeout", "30", "nsenter", f"--net={svc.net.netns_of('echo')}",
                             sys.executable, "-c", UDP_ECHO, "5353"])
    try:
        def from_host() -> bytes:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                client.settimeout(0.5)
                client.sendto(b"host", ("127.0.0.1", row["ports"][0]["nodePort"]))
                try:
                    return client.recvfrom(2048)[0]
                except socket.timeout:
                    return b""

        assert wait_for(from_host, what="UDP through the node port") == b"echo:host"
        client = ("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); "
                  f"s.sendto(b'pod', ('{row['clusterIP']}', 53)); print(s.recvfrom(2048)[0].decode())")
        answer = subprocess.run(["timeout", "20", "nsenter", f"--net={svc.net.netns_of('client')}",
                                 sys.executable, "-c", client], capture_output=True, text=True, timeout=30)
        assert answer.stdout.strip() == "echo:pod", answer.stderr
    finally:
        echo.terminate()
        echo.wait(timeout=10)


def test_headless_names_are_the_ready_pods(svc, tmp_path):
    labels = {"app": "db"}
    members = [pod(f"db-{i}", sh("web", PAGE_IS_HOSTNAME), labels=labels, hostname=f"db-{i}", subdomain="db")
               for i in range(2)]
    played = svc.play("db.yaml", service("db", {"clusterIP": "None", "selector": labels}), *members,
                      pod("client", sh("c", "sleep 3600")))
    assert played.returncode == 0, played.stderr
    assert svc.listing()["default/db"]["clusterIP"] == "None"
    ips = {name: svc.net.pod_ip(name) for name in ("db-0", "db-1")}
    hosts = svc.exec("client", "cat /etc/hosts")
    found = {line.split()[0] for line in glibc_lookup(hosts, tmp_path, "ahostsv4", "db").splitlines()}
    assert found == set(ips.values())  # glibc gives every address of a name in /etc/hosts
    assert glibc_lookup(hosts, tmp_path, "hosts", "db-1.db.default.svc.cluster.local").split()[0] == ips["db-1"]
    assert svc.exec("client", "wget -q -O - http://db-0.db:8080/").strip() == "db-0"
    assert svc.exec("client", "wget -q -O - http://db-1.db.default.svc.cluster.local:8080/").strip() == "db-1"
    assert svc.pods("pod", "rm", "-f", "-t", "0", "db-1").returncode == 0
    assert ips["db-1"] not in svc.exec("client", "cat /etc/hosts")


def test_node_port_conflicts_are_refused_and_nothing_is_made(svc):
    holder = None
    for number in range(31500, 31600):
        try:
            holder = socket.socket()
            holder.bind(("127.0.0.1", number))
            holder.listen()
            break
        except OSError:
            holder.close()
            holder = None
    assert holder is not None
    try:
        spec = {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80, "nodePort": number}]}
        refused = svc.play("taken.yaml", service("taken", spec), pod("x", sh("c", "sleep 3600"), labels={"app": "x"}))
        message = refused.assert_fails_cleanly(mentions=("taken.yaml:", "spec.ports[0].nodePort", "process"))
        assert f"{number}/TCP is in use on the host" in message
        assert svc.listing() == {} and replica_names(svc, "x") == set()
        assert svc.key("default", "taken") not in nft_table()
    finally:
        holder.close()

    first = svc.play("first.yaml", service("first", {**spec, "ports": [{"port": 80, "nodePort": number}]}))
    assert first.returncode == 0, first.stderr
    again = svc.play("second.yaml", service("second", {**spec, "ports": [{"port": 81, "nodePort": number}]}))
    assert "already published by Service default/first" in again.assert_fails_cleanly()
    host_port = pod("hp", sh("c", "sleep 3600", ports=[{"containerPort": 80, "hostPort": number}]))
    clash = svc.play("hostport.yaml", host_port)
    assert "already published by Service default/first" in clash.assert_fails_cleanly()
    assert set(svc.listing()) == {"default/first"}


def test_load_balancer_answers_on_its_port_affinity_sticks_and_replace_keeps_the_address(svc):
    labels = {"app": "lb"}
    port = free_port()
    documents = [service("lb", {"type": "LoadBalancer", "selector": labels, "sessionAffinity": "ClientIP",
                                "ports": [{"port": port, "targetPort": 8080}]}),
                 deployment("lb", 3, labels), pod("client", sh("c", "sleep 3600"))]
    played = svc.play("lb.yaml", *documents)
    assert played.returncode == 0, played.stderr
    assert f"service/lb created (LoadBalancer " in played.stdout and f"on the host at {port}/TCP" in played.stdout
    row = svc.routed("default", "lb")
    replicas = replica_names(svc, "lb-")

    def from_host() -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return conn.makefile("rb").read().decode().split("\r\n\r\n", 1)[-1].strip()

    assert from_host() in replicas
    answers = svc.exec("client", f"for i in $(seq 1 12); do wget -q -O - http://lb:{port}/; done").split()
    assert len(answers) == 12 and len(set(answers)) == 1  # ClientIP affinity: one replica for this client

    replayed = svc.pods("play", "--replace", "--network", svc.net.name, str(svc.pods.manifests / "lb.yaml"))
    assert replayed.returncode == 0, replayed.stderr
    again = svc.listing()["default/lb"]
    assert again["clusterIP"] == row["clusterIP"] and again["ports"] == row["ports"]
    assert wait_for(lambda: svc.exec("client", f"wget -q -O - http://lb:{port}/").strip() in replica_names(svc, "lb-"),
                    what="the replaced replicas behind the Service")


def test_a_not_ready_replica_gets_no_traffic_and_gets_it_back_once_ready(svc):
    skip_inside_a_chroot("its exec probes and hooks cannot enter the container there")
    labels = {"app": "shy"}
    # ready while /tmp/ready exists; the probe monitor rewrites the Service's rules when that flips
    readiness = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}
    web = deployment("shy", 2, labels, readinessProbe=readiness,
                     command=["/bin/sh", "-c", "touch /tmp/ready && " + PAGE_IS_HOSTNAME])
    played = svc.play("shy.yaml", service("shy", {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}),
                      web, pod("client", sh("c", "sleep 3600")))
    assert played.returncode == 0, played.stderr
    replicas = sorted(replica_names(svc, "shy-"))
    wait_for(lambda: len(svc.listing()["default/shy"]["endpoints"]) == 2, what="both replicas ready")
    svc.routed("default", "shy")

    def answers() -> set[str]:
        return set(svc.exec("client", "for i in $(seq 1 30); do wget -q -O - http://shy/; done").split())

    assert answers() == set(replicas)
    shy, other = replicas
    svc.exec(shy, "rm /tmp/ready")
    wait_for(lambda: len(svc.listing()["default/shy"]["endpoints"]) == 1, what=f"{shy} to leave the endpoints")
    assert answers() == {other}
    assert svc.pods.container(shy, "web")["state"] == "running"  # not ready is not restarted
    svc.exec(shy, "touch /tmp/ready")
    wait_for(lambda: len(svc.listing()["default/shy"]["endpoints"]) == 2, what=f"{shy} to come back")
    assert answers() == set(replicas)


NAMED_UDP_ECHO = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',5353));"
                  "s.settimeout(60)\nwhile True:\n d,a=s.recvfrom(2048); s.sendto(sys.argv[1].encode(),a)")


def test_udp_flows_follow_the_endpoints_when_they_change(svc):
    """A client that keeps sending from one port reaches the new endpoint once the old one is gone:
    the conntrack entry that sent its flow to the old pod is forgotten when the rules change."""
    labels = {"app": "dns"}
    server = sh("idle", "sleep 3600", ports=[{"containerPort": 5353, "protocol": "UDP"}])
    spec = {"selector": labels, "ports": [{"port": 53, "protocol": "UDP", "targetPort": 5353}]}
    played = svc.play("dns.yaml", service("dns", spec), pod("client", sh("c", "sleep 3600")))
    assert played.returncode == 0, played.stderr
    assert svc.play("old.yaml", pod("old", server, labels=labels)).returncode == 0
    row = svc.routed("default", "dns")
    servers = [subprocess.Popen(["timeout", "60", "nsenter", f"--net={svc.net.netns_of('old')}",
                                 sys.executable, "-c", NAMED_UDP_ECHO, "old"])]
    # the client keeps one socket (one source port) and asks until it hears the answer it waits for
    client = ("import socket,sys,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',40053));"
              "s.settimeout(0.3); end=time.monotonic()+float(sys.argv[2]); got=b''\n"
              "while time.monotonic()<end and got!=sys.argv[1].encode():\n"
              f" s.sendto(b'q', ('{row['clusterIP']}', 53))\n"
              " try: got=s.recvfrom(2048)[0]\n except socket.timeout: pass\n"
              "print(got.decode())")

    def ask(wanted: str, seconds: float) -> str:
        done = subprocess.run(["timeout", "30", "nsenter", f"--net={svc.net.netns_of('client')}",
                               sys.executable, "-c", client, wanted, str(seconds)],
                              capture_output=True, text=True, timeout=40)
        return done.stdout.strip()

    try:
        assert ask("old", 15) == "old"
        assert svc.play("new.yaml", pod("new", server, labels=labels)).returncode == 0
        servers.append(subprocess.Popen(["timeout", "60", "nsenter", f"--net={svc.net.netns_of('new')}",
                                         sys.executable, "-c", NAMED_UDP_ECHO, "new"]))
        assert svc.down("old.yaml").returncode == 0
        # conntrack would keep this flow on the old pod's address for 30 s and more while packets
        # keep coming; forgotten, the next packet is sent to the new pod
        assert ask("new", 8) == "new"
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=10)

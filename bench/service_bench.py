"""Service bench: requests through a ClusterIP against straight to a pod's IP, and play of a
Deployment (3 replicas) plus a Service to the first HTTP 200 fetched through the Service's name.

    .venv/bin/python bench/service_bench.py [--rounds 5] [--requests 300]

kubeplay gets private state under a temporary directory and its own network, and imports a busybox
rootfs (no registry, no internet). The request paths are measured from the same client pod's
network namespace, alternating request by request (the path that goes first changes each time):
through the cluster IP of a Service with one pod against straight to that pod's IP, and through the
Deployment's cluster IP against its three replicas' IPs taken in turn (the spread the Service
makes, done by the client). Latency is the median time of one HTTP request on a new connection
(busybox httpd closes each), the request rate that of 200 requests sent over 4 connections at once,
and throughput the median rate of fetching a 64 MiB page (six fetches a round). Only 127.0.0.1, the pods' addresses and the Services' cluster IPs are ever contacted.
podman has no Services and plays a Deployment as one pod, so the play is compared with the nearest
thing it does: `podman kube play` of the same Deployment and client pod, the client fetching from the
server pod's IP (given to podman with --ip), the engines alternating round by round. Needs root.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a script, bench/ is sys.path[0]: the checkout's root is where `bench` is found
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from bench.network_bench import BenchError  # noqa: E402 - podman's set-up for this host is there
from bench.network_bench import Podman as PodmanEngine  # noqa: E402

IMAGE = "localhost/bench/busybox:latest"
APPLETS = ("sh", "httpd", "wget", "sleep", "hostname", "mkdir", "dd", "touch", "cat", "true")
PLAY_TIMEOUT = 120.0
SERVER = ("mkdir -p /www && hostname > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count=64 2>/dev/null"
          " && exec httpd -f -p 8080 -h /www")
# the client's first successful fetch through the Service's name is marked in a hostPath file
CLIENT = "until wget -q -O /dev/null http://web/; do sleep 0.02; done; touch /mark/first-200; exec sleep 3600"

REQUESTS = r"""
import json, os, socket, sys, threading, time
targets = json.loads(sys.argv[1]); count = int(sys.argv[2]); rounds = int(sys.argv[3]); BIG_FETCHES = 6
with open(sys.argv[4], "w") as procs:  # join the client container's cgroup: a process of that pod
    procs.write(str(os.getpid()))
CLIENTS, BURST, BURSTS = 4, 200, 4  # request rate: BURST requests from CLIENTS connections at once
turns = {name: 0 for name in targets}
buffer = bytearray(1 << 20)
def fetch(name, path, buffer=buffer):
    # a target is a list of addresses, taken in turn
    host, port = targets[name][turns[name] % len(targets[name])]
    turns[name] += 1
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        size = 0
        while received := conn.recv_into(buffer):  # one buffer, refilled: the client costs little
            size += received
    return size
names = list(targets)
def in_turn(turn):
    # request by request in turn, so a load that comes and goes weighs on every path; the path that
    # goes first changes each time, so none always follows the same one
    shift = turn % len(names)
    return names[shift:] + names[:shift]
def request_rate(name):
    def client():
        own = bytearray(1 << 16)
        for _ in range(BURST // CLIENTS):
            fetch(name, "/", own)
    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    return BURST / (time.perf_counter() - started)
results = {name: {"latency": [], "throughput": [], "rate": []} for name in targets}
for _ in range(rounds):
    times = {name: [] for name in targets}
    for turn in range(count):
        for name in in_turn(turn):
            started = time.perf_counter(); fetch(name, "/"); times[name].append(time.perf_counter() - started)
    for name in targets:
        times[name].sort()
        results[name]["latency"].append(times[name][len(times[name]) // 2])
    for turn in range(BURSTS):
        for name in in_turn(turn):
            results[name]["rate"].append(request_rate(name))
    for turn in range(BIG_FETCHES):
        for name in in_turn(turn):
            started = time.perf_counter(); size = fetch(name, "/big")
            results[name]["throughput"].append(size / (time.perf_counter() - started))
print(json.dumps(results))
"""


# the server pod's address on podman's default network "podman" (10.88.0.0/16), given with --ip
PODMAN_SERVER_IP = "10.88.0.50"
PODMAN_CLIENT = (f"until wget -q -O /dev/null http://{PODMAN_SERVER_IP}:8080/; do sleep 0.02; done; "
                 "touch /mark/first-200; exec sleep 3600")




def rootfs_tar(target: Path) -> Path:
    with tarfile.open(target, "w") as tar:
        for directory in ("bin", "tmp", "etc", "proc", "sys", "dev", "mark"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        empty = tarfile.TarInfo("etc/hosts")
        tar.addfile(empty, io.BytesIO(b""))
    return target


def manifests(base: Path, index: int, mark: Path, engine: str = "kubeplay") -> Path:
    labels = {"app": f"web{index}"}
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"web{index}"},
           "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"terminationGracePeriodSeconds": 1,
                                          "containers": [{"name": "web", "image": IMAGE, "imagePullPolicy": "Never",
                                                          "command": ["/bin/sh", "-c", SERVER],
                                                          "ports": [{"containerPort": 8080}]}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"client{index}"},
              "spec": {"terminationGracePeriodSeconds": 1,
                       "containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
                                       "command": ["/bin/sh", "-c", CLIENT if engine == "kubeplay" else PODMAN_CLIENT],
                                       "volumeMounts": [{"name": "mark", "mountPath": "/mark"}]}],
                       "volumes": [{"name": "mark", "hostPath": {"path": str(mark), "type": "Directory"}}]}}
    if engine == "podman":
        # podman 4.3 publishes a containerPort without hostPort on the host's same port: reached at the
        # pod's IP here, the server declares none
        del web["spec"]["template"]["spec"]["containers"][0]["ports"]
    path = base / f"app-{engine}-{index}.yaml"
    documents = (service, web, client) if engine == "kubeplay" else (web, client)
    path.write_text("\n---\n".join(json.dumps(doc) for doc in documents))
    return path


def play_until_mark(argv: list[str], env: dict, mark: Path, engine: str) -> float:
    """Seconds from launching `argv` (a play) to the client's mark; the play is let finish."""
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True)
    try:
        while not (mark / "first-200").exists():
            if time.monotonic() - started > PLAY_TIMEOUT:
                raise BenchError(f"{engine}: no first 200 within {PLAY_TIMEOUT:.0f} s")
            if process.poll() not in (None, 0):
                raise BenchError(f"{engine} play failed: {process.stderr.read()[-400:]}")
            time.sleep(0.005)
        elapsed = time.monotonic() - started
        process.communicate(timeout=PLAY_TIMEOUT)
        return elapsed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


class Podman(PodmanEngine):
    def play_to_first_200(self, yaml: Path, mark: Path) -> float:
        # one --ip per pod, in the file's order: the Deployment's pod, then the client's
        return play_until_mark(self.prefix + ["kube", "play", "--quiet", "--network", "podman",
                                              "--ip", PODMAN_SERVER_IP, str(yaml)], self.env, mark, "podman")


def solo_manifests(base: Path) -> Path:
    """One server pod behind a Service of its own: the cluster IP against that same pod's IP."""
    labels = {"app": "solo"}
    server = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo", "labels": labels},
              "spec": {"terminationGracePeriodSeconds": 1,
                       "containers": [{"name": "web", "image": IMAGE, "imagePullPolicy": "Never",
                                       "command": ["/bin/sh", "-c", SERVER], "ports": [{"containerPort": 8080}]}]}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "solo"},
               "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}
    path = base / "solo.yaml"
    path.write_text("\n---\n".join(json.dumps(doc) for doc in (service, server)))
    return path


class Kubeplay:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.prefix = [sys.executable, "-m", "kubeplay", "--root", str(base / "root"), "--runroot", str(base / "run")]
        self.env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        self.network = f"svcbench-{os.getpid()}"

    def __call__(self, *args: str, timeout: float = PLAY_TIMEOUT) -> str:
        try:
            done = subprocess.run(self.prefix + list(args), capture_output=True, text=True, timeout=timeout,
                                  env=self.env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"kubeplay {' '.join(args)}: no answer in {timeout:.0f} s") from exc
        if done.returncode != 0:
            raise BenchError(f"kubeplay {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
        return done.stdout

    def prepare(self, tar: Path) -> None:
        self("image", "import", str(tar), IMAGE)
        for third in range(160, 200):
            try:
                self("network", "create", self.network, "--subnet", f"10.90.{third}.0/24")
                return
            except BenchError as exc:
                if "overlaps" not in str(exc):
                    raise
        raise BenchError("no free 10.90.160-199.0/24 for the bench network")

    def play_to_first_200(self, yaml: Path, mark: Path) -> float:
        return play_until_mark(self.prefix + ["play", "--network", self.network, str(yaml)], self.env, mark,
                               "kubeplay")

    def pod(self, name: str) -> dict:
        return json.loads(self("pod", "inspect", name, "--format", "json"))[0]

    def requests(self, client: str, targets: dict[str, list[tuple[str, int]]], count: int, rounds: int) -> dict:
        pod = self.pod(client)
        netns = self.base / "run" / "netns" / pod["id"]
        done = subprocess.run(["nsenter", f"--net={netns}", sys.executable, "-c", REQUESTS, json.dumps(targets),
                               str(count), str(rounds), str(container_cgroup(pod) / "cgroup.procs")],
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise BenchError(f"requests from {client} failed: {done.stderr.strip()[-400:]}")
        return json.loads(done.stdout)

    def cleanup(self) -> None:
        try:
            self("system", "reset", "--force")
        except BenchError as exc:
            print(f"kubeplay reset: {exc}", file=sys.stderr)


def container_cgroup(pod: dict) -> Path:
    """The cgroup2 directory of the pod's first member: the measuring client runs there, as the pod's
    own processes do (whatever the kernel does per cgroup, such as a connect hook, applies to it)."""
    mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    top = next(Path(line.split()[4]) for line in mountinfo if " - cgroup2 " in line)
    return top / "kubeplay" / f"pod-{pod['id']}" / pod["containers"][0]["id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured plays, and request rounds per path")
    parser.add_argument("--requests", type=int, default=300, help="requests per path and round")
    parser.add_argument("--no-podman", action="store_true", help="measure kubeplay alone")
    options = parser.parse_args()
    if os.geteuid() != 0:
        print("the Service bench needs root (bridges, nftables)", file=sys.stderr)
        return 2
    from bench.hoststate import HostSnapshot, restore_podman_traces

    before = HostSnapshot.take()
    base = Path(tempfile.mkdtemp(prefix="kp-svcbench-", dir="/tmp"))
    kubeplay, podman = Kubeplay(base / "kubeplay"), Podman(base / "podman")
    try:
        tar = rootfs_tar(base / "rootfs.tar")
        kubeplay.prepare(tar)
        why_not = None if options.no_podman else podman.usable(tar)
        if why_not:
            print(f"podman: {why_not}; measuring kubeplay alone")
        plays, podman_plays = [], []
        for index in range(options.rounds + 1):
            mark = base / f"mark-{index}"
            mark.mkdir()
            yaml = manifests(base, index, mark)
            seconds = kubeplay.play_to_first_200(yaml, mark)
            shown = ""
            if not (why_not or options.no_podman):
                podman_mark = base / f"podman-mark-{index}"
                podman_mark.mkdir()
                podman_yaml = manifests(base, index, podman_mark, engine="podman")
                podman_seconds = podman.play_to_first_200(podman_yaml, podman_mark)
                podman("kube", "down", str(podman_yaml))
                shown = f"; podman, Deployment as 1 pod -> first 200 through its IP: {podman_seconds * 1000:6.0f} ms"
                if index:
                    podman_plays.append(podman_seconds)
            print(f"{'warm-up' if index == 0 else f'round {index}':>8}: play Deployment(3)+Service -> first 200 "
                  f"through the name from another pod: {seconds * 1000:6.0f} ms{shown}")
            if index:
                plays.append(seconds)
            if index < options.rounds:
                kubeplay("down", str(yaml))
        print(f"\nplay -> first 200 through the Service (median of {len(plays)}): {statistics.median(plays) * 1000:.0f} ms")
        if podman_plays:
            print(f"podman (no Service; its Deployment played as 1 pod, reached at its IP): "
                  f"{statistics.median(podman_plays) * 1000:.0f} ms; ratio kubeplay/podman "
                  f"{statistics.median(plays) / statistics.median(podman_plays):.2f}")

        last = options.rounds
        kubeplay("play", "--network", kubeplay.network, str(solo_manifests(base)))
        services = {row["name"]: row["clusterIP"] for row in json.loads(kubeplay("services", "--format", "json"))}
        pod_ips = {p["name"]: p["ip"] for p in json.loads(kubeplay("pods", "--format", "json"))}
        replicas = sorted(ip for name, ip in pod_ips.items() if name.startswith(f"web{last}-"))
        # the same server reached both ways, then the three replicas: through the Service's spread,
        # and taken in turn by the client (what the Service's own rules cost against the same spread)
        targets = {"cluster IP": [(services["solo"], 80)], "pod IP": [(pod_ips["solo"], 8080)],
                   "cluster IP, 3 replicas": [(services["web"], 80)],
                   "pod IPs in turn": [(ip, 8080) for ip in replicas]}
        results = kubeplay.requests(f"client{last}", targets, options.requests, options.rounds)
        latency = {name: statistics.median(r["latency"]) for name, r in results.items()}
        requests = {name: statistics.median(r["rate"]) for name, r in results.items()}
        rate = {name: statistics.median(r["throughput"]) for name, r in results.items()}
        for name in results:
            print(f"{name:>22}: request latency (median) {latency[name] * 1e6:7.0f} us, "
                  f"{requests[name]:6.0f} requests/s, throughput {rate[name] / (1 << 20):7.0f} MiB/s")
        # the paths' figures drift together over a run (other work on the host, the CPUs' state), so
        # each measurement is compared with the other path's taken in the same turn, and the median
        # of those ratios is the verdict
        def paired(through: str, direct: str, key: str) -> float:
            return statistics.median(a / b for a, b in zip(results[through][key], results[direct][key]))

        for through, direct in (("cluster IP", "pod IP"), ("cluster IP, 3 replicas", "pod IPs in turn")):
            print(f"{through} / {direct}: latency {paired(through, direct, 'latency'):.3f}, "
                  f"requests/s {paired(through, direct, 'rate'):.3f}, "
                  f"throughput {paired(through, direct, 'throughput'):.3f} "
                  "(medians of the ratios turn by turn; target: within 5 %)")
        return 0
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        kubeplay.cleanup()
        if not options.no_podman and shutil.which("podman"):
            podman.cleanup()
            restore_podman_traces(before)  # podman's CNI tables and leases: the host as it was
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

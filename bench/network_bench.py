"""Network bench: network set-up time per pod, and time from `play` to an HTTP 200 on a hostPort,
kubeplay against `podman kube play` in the same run, with the ratio.

    .venv/bin/python bench/network_bench.py [--rounds 5]

Both engines get private state under one temporary directory (kubeplay: --root/--runroot and its own
network; podman: --root/--runroot/--tmpdir), import the same busybox rootfs (no registry, no
internet) and serve one page with busybox httpd behind a hostPort. The clock starts when `play` is
launched and stops at the first HTTP 200 from 127.0.0.1:hostPort. The network set-up time is the
`network set up in N ms` line kubeplay logs at --log-level debug. Needs root. Only 127.0.0.1 and the
pods' own namespaces are ever contacted.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/bench/busybox:latest"
PAGE = b"bench-page\n"
COMMAND_TIMEOUT = 120.0
HTTP_TIMEOUT = 30.0
# crun 1.8 refuses this host's hybrid cgroups, and the process cannot raise rlimits above the hard
# limits, so podman's defaults would fail at container start
PODMAN_CONF = """[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
"""
NET_LINE = re.compile(r"network set up in ([0-9.]+) ms")


class BenchError(RuntimeError):
    pass


def run(argv: list[str], *, env: dict | None = None, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)}: no answer in {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise BenchError(f"{argv[0]} is not installed") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return done


def rootfs_tar(target: Path) -> Path:
    """/bin/busybox with an index page: all httpd needs."""
    with tarfile.open(target, "w") as tar:
        for directory in ("bin", "www", "tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "httpd"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        page = tarfile.TarInfo("www/index.html")
        page.size, page.mode = len(PAGE), 0o644
        tar.addfile(page, io.BytesIO(PAGE))
    return target


def manifest(path: Path, pod: str, host_port: int) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: {pod}
spec:
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
    - containerPort: 8080
      hostPort: {host_port}
""")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http_200(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.status == 200 and response.read() == PAGE:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.005)
    raise BenchError(f"no HTTP 200 on 127.0.0.1:{port} within {HTTP_TIMEOUT:.0f} s")


def play_to_200(argv: list[str], port: int, env: dict | None = None) -> tuple[float, str]:
    """Seconds from launching `play` to the first 200; the play's stderr (for the debug lines)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               stdin=subprocess.DEVNULL)
    try:
        wait_http_200(port, started + HTTP_TIMEOUT)
        elapsed = time.monotonic() - started
        _, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    if process.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed: {stderr.strip()[-400:]}")
    return elapsed, stderr


class Kubeplay:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.prefix = [sys.executable, "-m", "kubeplay", "--root", str(base / "root"), "--runroot", str(base / "run")]
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.network = f"bench-{os.getpid()}"

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return run(self.prefix + list(args), env=self.env)

    def prepare(self, tar: Path) -> None:
        self("image", "import", str(tar), IMAGE)
        for third in range(120, 160):
            subnet = f"10.90.{third}.0/24"
            try:
                self("network", "create", self.network, "--subnet", subnet)
                return
            except BenchError as exc:
                if "overlaps" not in str(exc):
                    raise
        raise BenchError("no free 10.90.120-159.0/24 for the bench network")

    def round(self, yaml: Path, port: int) -> tuple[float, float | None]:
        argv = self.prefix[:3] + ["--log-level", "debug"] + self.prefix[3:] + ["play", "--network", self.network,
                                                                               str(yaml)]
        elapsed, stderr = play_to_200(argv, port, self.env)
        found = NET_LINE.search(stderr)
        self("down", str(yaml))
        return elapsed, float(found.group(1)) if found else None

    def cleanup(self) -> None:
        try:
            self("system", "reset", "--force")
        except BenchError as exc:
            print(f"kubeplay reset: {exc}", file=sys.stderr)


class Podman:
    def __init__(self, base: Path) -> None:
        self.prefix = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
                       "--tmpdir", str(base / "tmp")]
        self.bridge_before = Path("/sys/class/net/cni-podman0").exists()
        # podman's settings for this host go in a file of the bench's own, named by CONTAINERS_CONF:
        # nothing under /etc changes (kubeplay reads containers.conf too)
        conf = base / "containers.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(PODMAN_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return run(self.prefix + list(args), env=self.env)

    def usable(self, tar: Path) -> str | None:
        """None if podman can run pods here, else why not."""
        if shutil.which("podman") is None:
            try:
                run(["apt-get", "install", "-y", "podman"], timeout=600)
            except BenchError as exc:
                return f"podman is not installed and could not be installed: {exc}"
        try:
            self("import", str(tar), IMAGE)
        except BenchError as exc:
            return f"podman cannot import an image here: {exc}"
        return None

    def round(self, yaml: Path, port: int) -> float:
        elapsed, _ = play_to_200(self.prefix + ["kube", "play", str(yaml)], port, self.env)
        self("kube", "down", str(yaml))
        return elapsed

    def cleanup(self) -> None:
        try:
            self("system", "reset", "--force")
        except BenchError as exc:
            print(f"podman reset: {exc}", file=sys.stderr)
        if not self.bridge_before and Path("/sys/class/net/cni-podman0").exists():
            subprocess.run(["ip", "link", "del", "cni-podman0"], capture_output=True, timeout=30)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per engine (after one warm-up)")
    options = parser.parse_args()
    if os.geteuid() != 0:
        print("the network bench needs root (bridges, nftables, podman's CNI)", file=sys.stderr)
        return 2
    # run as a script, bench/ is sys.path[0]: the checkout's root is where `bench` is found
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
    from bench.hoststate import HostSnapshot, restore_podman_traces

    before = HostSnapshot.take()
    base = Path(tempfile.mkdtemp(prefix="kp-netbench-", dir="/tmp"))
    kubeplay, podman = Kubeplay(base / "kubeplay"), Podman(base / "podman")
    try:
        tar = rootfs_tar(base / "rootfs.tar")
        kubeplay.prepare(tar)
        why_not = podman.usable(tar)
        if why_not:
            print(f"podman: {why_not}; measuring kubeplay alone")
        rows: list[tuple[float, float | None, float | None]] = []
        for index in range(options.rounds + 1):
            yaml = manifest(base / f"kp-{index}.yaml", f"nb-kp-{index}", free_port())
            kp_seconds, net_ms = kubeplay.round(yaml, int(yaml.read_text().rsplit("hostPort: ", 1)[1]))
            pm_seconds = None
            if not why_not:
                pm_yaml = manifest(base / f"pm-{index}.yaml", f"nb-pm-{index}", free_port())
                pm_seconds = podman.round(pm_yaml, int(pm_yaml.read_text().rsplit("hostPort: ", 1)[1]))
            label = "warm-up" if index == 0 else f"round {index}"
            shown_pm = f"{pm_seconds * 1000:7.0f} ms" if pm_seconds is not None else "      -"
            shown_net = f"{net_ms:6.1f} ms" if net_ms is not None else "     ?"
            print(f"{label:>8}: kubeplay network set-up {shown_net}, play->200 {kp_seconds * 1000:7.0f} ms;"
                  f" podman play->200 {shown_pm}")
            if index:
                rows.append((kp_seconds, net_ms, pm_seconds))
        kp_median = median([row[0] for row in rows])
        net_median = median([row[1] for row in rows if row[1] is not None])
        print(f"\nnetwork set-up per pod (median): {net_median:.1f} ms")
        print(f"play -> HTTP 200 (median): kubeplay {kp_median * 1000:.0f} ms", end="")
        if not why_not:
            pm_median = median([row[2] for row in rows if row[2] is not None])
            print(f", podman {pm_median * 1000:.0f} ms, ratio kubeplay/podman {kp_median / pm_median:.2f}"
                  f" (target <= 0.60)")
        else:
            print()
        return 0
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        kubeplay.cleanup()
        podman.cleanup()
        restore_podman_traces(before)  # podman's CNI tables and leases: the host as it was
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Port-forward bench: download throughput through `kubeplay port-forward` against the same pod's
hostPort, in the same run, with the ratio (the issue asks for at least 0.8).

    .venv/bin/python bench/portforward_bench.py [--rounds 5] [--megabytes 200]

One pod serves a file of --megabytes with busybox httpd behind a hostPort; each round fetches it
over HTTP from 127.0.0.1, once through the hostPort (nft DNAT, the kernel's path) and once through
a running port-forward (splice between sockets in kubeplay's process). Needs root. Only 127.0.0.1
and the pod's own namespace are contacted.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.network_bench import IMAGE, BenchError, Kubeplay, free_port, rootfs_tar  # noqa: E402

CHUNK = 1 << 20


def manifest(path: Path, host_port: int, megabytes: int) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: fwd-bench
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "/bin/busybox dd if=/dev/zero of=/www/big bs=1M count={megabytes} 2>/dev/null && exec /bin/busybox httpd -f -p 8080 -h /www"]
    ports:
    - containerPort: 8080
      hostPort: {host_port}
""")
    return path


def fetch(port: int, size: int, timeout: float = 120.0) -> float:
    """Seconds to download /big (all `size` bytes of it) from 127.0.0.1:port."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(b"GET /big HTTP/1.0\r\nHost: bench\r\n\r\n")
        buffer = bytearray(CHUNK)
        received = 0
        while True:
            count = connection.recv_into(buffer)
            if not count:
                break
            received += count
    elapsed = time.monotonic() - started
    if received < size:
        raise BenchError(f"only {received} of {size} bytes came through port {port}")
    return elapsed


def wait_ready(port: int, size: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            fetch(port, size, timeout=30)
            return
        except (OSError, BenchError):
            time.sleep(0.2)
    raise BenchError(f"the pod never served /big on port {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=200)
    options = parser.parse_args()
    size = options.megabytes << 20
    with tempfile.TemporaryDirectory(prefix="kp-fwd-bench-") as scratch:
        base = Path(scratch)
        kubeplay = Kubeplay(base / "kubeplay")
        forward = None
        try:
            kubeplay.prepare(rootfs_tar(base / "rootfs.tar"))
            host_port, local_port = free_port(), free_port()
            yaml = manifest(base / "pod.yaml", host_port, options.megabytes)
            kubeplay("play", "--network", kubeplay.network, str(yaml))
            wait_ready(host_port, size, time.monotonic() + 60)
            forward = subprocess.Popen(kubeplay.prefix + ["port-forward", "fwd-bench", f"{local_port}:8080"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=kubeplay.env)
            wait_ready(local_port, size, time.monotonic() + 60)
            host, forwarded = [], []
            for _ in range(options.rounds):
                host.append(fetch(host_port, size))
                forwarded.append(fetch(local_port, size))
            host_rate = size / statistics.median(host) / 2**20
            forward_rate = size / statistics.median(forwarded) / 2**20
            print(f"hostPort      {host_rate:8.0f} MiB/s  (median of {options.rounds}, {options.megabytes} MiB each)")
            print(f"port-forward  {forward_rate:8.0f} MiB/s")
            print(f"ratio         {forward_rate / host_rate:8.2f}  (port-forward / hostPort)")
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        finally:
            if forward is not None:
                forward.terminate()
                forward.wait(timeout=10)
            kubeplay.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

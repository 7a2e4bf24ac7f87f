"""Rows about probes (kubeplay only: podman runs a health check through systemd timers, if at all):
the memory the probe monitor adds to an idle pod, and how soon a readiness change shows in `pods`.
"""

from __future__ import annotations

import time

from bench import manifests
from bench.context import Bench, Row
from bench.memory import pod_processes, pss_kib
from bench.stats import Sample

PERIOD = 1  # periodSeconds of the latency row's readiness probe


def _probed_pod(name: str, image: str, period: int) -> dict:
    """An idle pod with a readiness and a liveness exec probe; one failure makes it unready, so a
    change in either direction takes one probe to show."""
    pod = manifests.idle_pod(name, image)
    check = {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": period, "failureThreshold": 1}
    pod["spec"]["containers"][0]["readinessProbe"] = check
    pod["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": period}
    pod["spec"]["containers"][0]["command"] = ["sh", "-c", "touch /tmp/ready; " + manifests.IDLE]
    return pod


def _monitors(bench: Bench) -> list[int]:
    """The probe monitors (whose parent is init; their probe children are forked below them)."""
    found = []
    for pid in pod_processes(bench.kubeplay.base).others:
        try:
            with open(f"/proc/{pid}/stat") as file:
                parent = file.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                argv = file.read()
        except OSError:
            continue
        if parent == "1" and b"kubeplay.controllers.monitor" in argv:
            found.append(pid)
    return found


def _weigh(bench: Bench, count: int) -> float:
    """PSS in MiB per pod of every process the running pods have, the least of a few readings (a
    probe's forked child may be alive at one of them)."""
    readings = []
    for _ in range(5):
        time.sleep(0.5)
        readings.append(pod_processes(bench.kubeplay.base).pss_kib() / 1024 / count)
    return min(readings)


def monitor_memory(bench: Bench, count: int) -> None:
    """`count` idle pods with a readiness and a liveness probe (default period, 10 s) against the
    same pods without probes: the difference is what the monitors add."""
    kp = bench.kubeplay
    plain = manifests.write(bench.manifest_path(f"plain-{count}.yaml"),
                            [manifests.idle_pod(f"plain-{n:02d}", bench.busybox_ref) for n in range(count)])
    probed = manifests.write(bench.manifest_path(f"probed-{count}.yaml"),
                             [_probed_pod(f"probed-{n:02d}", bench.busybox_ref, 10) for n in range(count)])
    weights = {}
    monitor_only = 0.0
    for name, manifest in (("plain", plain), ("probed", probed)):
        kp("play", "--wait", "--timeout", "2m", "-q", str(manifest))
        try:
            time.sleep(1.0)
            weights[name] = _weigh(bench, count)
            if name == "probed":
                monitor_only = sum(pss_kib(pid) for pid in _monitors(bench)) / 1024 / count
        finally:
            kp(*kp.down_args(manifest))
    added = weights["probed"] - weights["plain"]
    bench.add(Row("memory a probe monitor adds to an idle pod (PSS)", Sample((added,)), None, "≤ 3 MiB",
                  unit="MiB", target_absolute=3.0,
                  note=f"{count} pods with a readiness and a liveness exec probe against the same pods without: "
                       f"{weights['probed']:.2f} against {weights['plain']:.2f} MiB a pod; the monitor process "
                       f"alone {monitor_only:.2f} MiB"))


def readiness_latency(bench: Bench, times: int) -> None:
    """A readiness probe every PERIOD s; the file it tests is removed or made, and `pods` is polled
    until READY shows it."""
    kp = bench.kubeplay
    manifest = manifests.write(bench.manifest_path("latency.yaml"), [_probed_pod("latency", bench.busybox_ref, PERIOD)])
    kp("play", "--wait", "--timeout", "1m", "-q", str(manifest))
    delays = []
    try:
        for round_number in range(times):
            ready = round_number % 2 == 1
            kp("exec", "latency", "--", "touch" if ready else "rm", "/tmp/ready")
            changed = time.perf_counter()
            wanted = "1/1" if ready else "0/1"
            deadline = changed + 10 * PERIOD
            while time.perf_counter() < deadline:
                if wanted in kp("pods").stdout.split():
                    break
                time.sleep(0.02)
            delays.append(time.perf_counter() - changed)
    finally:
        kp(*kp.down_args(manifest))
    bench.add(Row("readiness change to `pods` showing it", Sample(tuple(delays)), None, f"≤ {PERIOD + 1} s",
                  target_absolute=PERIOD + 1.0,
                  note=f"periodSeconds: {PERIOD}, failureThreshold: 1, an exec probe; from the change in the container to READY "
                       f"in `pods`, polled every 20 ms; {times} changes, both ways"))

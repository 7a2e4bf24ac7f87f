"""Probe monitor bench: the memory a monitor adds to an idle pod with a readiness and a liveness
probe, and the CPU one probe costs.

    .venv/bin/python bench/monitor_bench.py [--pods 5] [--seconds 20]

Memory: `--pods` idle pods with a readiness and a liveness exec probe (periodSeconds 10) against
the same pods without probes; PSS of every process the pods have (conmons, containers, monitors),
the least of a few readings, the difference a pod (target: at most 3 MiB). The pods are played
together, so their monitors are forked from one process and share what it loaded; `--pods 1` shows
what a pod played alone pays for a whole interpreter of its own. CPU: one pod whose two
exec probes run every second; the monitor's own CPU time and that of everything it forked and
reaped (the probe children and the runtime they run) over `--seconds`, divided by the probes run.
kubeplay gets private state under a temporary directory and imports a busybox rootfs (no
registry, no internet). Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

IDLE = "touch /tmp/ready; exec sleep 3600"


def pod(name: str, probe_period: int | None) -> dict:
    container = {"name": "app", "image": "localhost/bench/busybox:latest", "imagePullPolicy": "Never",
                 "command": ["/bin/sh", "-c", IDLE]}
    if probe_period:
        container["readinessProbe"] = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": probe_period}
        container["livenessProbe"] = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": probe_period}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]}}


def write(path: Path, documents: list[dict]) -> Path:
    path.write_text("\n---\n".join(json.dumps(document) for document in documents))
    return path


def monitors(state_dir: Path) -> list[int]:
    from bench.memory import pod_processes

    found = []
    for pid in pod_processes(state_dir).others:
        try:
            parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if parent == "1" and b"kubeplay.controllers.monitor" in argv:
            found.append(pid)
    return found


def weigh(state_dir: Path, count: int) -> float:
    """MiB of PSS a pod, the least of five readings (a probe's child may be alive at one)."""
    from bench.memory import pod_processes

    readings = []
    for _ in range(5):
        time.sleep(0.5)
        readings.append(pod_processes(state_dir).pss_kib() / 1024 / count)
    return min(readings)


def private_kib(pid: int) -> tuple[int, int]:
    """(Pss_Anon, Private_Clean + Private_Dirty) in KiB: the monitor's own memory, whatever other
    processes share the interpreter's files at the time."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[name] = int(rest.split()[0])
    return values.get("Pss_Anon", 0), values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)


def runtime_exec_cpu(kubeplay, pod_name: str, times: int = 20) -> float:
    """CPU seconds of one `runc exec` of the probe's command, run straight from here."""
    import subprocess

    container = next(c for c in kubeplay.pod(pod_name)["containers"] if c["role"] == "member")
    runtime = shutil.which("runc") or "runc"
    before = os.times()
    for _ in range(times):
        subprocess.run([runtime, "--root", str(kubeplay.base / "run" / "runtime"), "exec", container["id"],
                        "cat", "/tmp/ready"], capture_output=True, check=True, timeout=30)
    after = os.times()
    return (after.children_user + after.children_system - before.children_user - before.children_system) / times


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    options = parser.parse_args()
    if os.geteuid() != 0:
        print("the monitor bench needs root", file=sys.stderr)
        return 2
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
    from bench.memory import pss_kib
    from bench.service_bench import BenchError, Kubeplay, rootfs_tar

    base = Path(tempfile.mkdtemp(prefix="kp-monbench-", dir="/tmp"))
    kubeplay = Kubeplay(base / "kubeplay")
    try:
        kubeplay.prepare(rootfs_tar(base / "rootfs.tar"))
        weights = {}
        monitor_alone = 0.0
        for name, period in (("plain", None), ("probed", 10)):
            yaml = write(base / f"{name}.yaml", [pod(f"{name}-{n}", period) for n in range(options.pods)])
            kubeplay("play", "--network", kubeplay.network, "--wait", "--timeout", "2m", str(yaml))
            time.sleep(1.0)
            weights[name] = weigh(kubeplay.base, options.pods)
            if period:
                found = monitors(kubeplay.base)
                monitor_alone = sum(pss_kib(pid) for pid in found) / 1024 / options.pods
                own = [private_kib(pid) for pid in found]
            kubeplay("down", str(yaml))
        print(f"PSS a pod: {weights['probed']:.2f} MiB with a readiness and a liveness probe, "
              f"{weights['plain']:.2f} MiB without")
        print(f"memory the monitor adds a pod: {weights['probed'] - weights['plain']:.2f} MiB "
              f"(the monitor process alone {monitor_alone:.2f} MiB; target <= 3 MiB)")
        print(f"the monitor's own memory (mean of {len(own)}): Pss_Anon {sum(a for a, _ in own) / len(own) / 1024:.2f} MiB, "
              f"private (USS) {sum(u for _, u in own) / len(own) / 1024:.2f} MiB")

        yaml = write(base / "busy.yaml", [pod("busy", 1)])
        kubeplay("play", "--network", kubeplay.network, "--wait", "--timeout", "1m", str(yaml))
        time.sleep(2.0)
        [monitor] = monitors(kubeplay.base)
        before, started = cpu_seconds(monitor), time.monotonic()
        time.sleep(options.seconds)
        used, elapsed = cpu_seconds(monitor) - before, time.monotonic() - started
        probes = 2 * elapsed  # two probes, each once a second
        print(f"CPU a probe: {used / probes * 1000:.0f} ms ({used:.2f} s of CPU for ~{probes:.0f} exec probes "
              f"in {elapsed:.0f} s; the monitor, its probe children and the runtime they run)")
        print(f"of which the runtime alone (runc exec of the same command, run straight): "
              f"{runtime_exec_cpu(kubeplay, 'busy') * 1000:.0f} ms")
        kubeplay("down", str(yaml))
        return 0
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        kubeplay.cleanup()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

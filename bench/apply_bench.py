"""apply's two figures (python -m bench.apply_bench, as root): an apply that changes nothing, and a
rolling update of 4 replicas with a 1 s readiness probe against 4 x (pod start + readiness).

Prints a Markdown table to paste into bench/RESULTS.md. Runs in its own roots under a temporary
directory and resets them at the end.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import yaml

from tests.support.cli import KubeplayRunner
from tests.support.imagebuild import write_rootfs_tar

IMAGE = "localhost/bench/busybox:latest"
SERVE = "mkdir -p /www && echo up > /www/index.html && exec httpd -f -p 8080 -h /www"
REPEAT = 7


def deployment(name: str, replicas: int, version: str, ready: bool = False) -> dict:
    container = {"name": "main", "image": IMAGE, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", SERVE],
                 "env": [{"name": "VERSION", "value": version}]}
    if ready:
        container["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]}}}}


def timed(kp: KubeplayRunner, *args: str) -> float:
    start = time.perf_counter()
    done = kp(*args, timeout=600)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kubeplay {' '.join(args)} failed: {done.stderr}")
    return took


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kubeplay-apply-bench-") as base:
        kp = KubeplayRunner(Path(base))
        try:
            tar = write_rootfs_tar(Path(base) / "rootfs.tar")
            kp("image", "import", str(tar), IMAGE, "--change", 'CMD ["sh"]')
            ten = Path(base) / "ten.yaml"
            ten.write_text(yaml.safe_dump_all([deployment(f"d{i}", 1, "1") for i in range(10)]))
            timed(kp, "apply", "-f", str(ten))
            unchanged = [timed(kp, "apply", "-f", str(ten)) for _ in range(REPEAT)]
            timed(kp, "down", str(ten))

            one = Path(base) / "one.yaml"
            starts = []
            for round_ in range(3):
                one.write_text(yaml.safe_dump(deployment("single", 1, str(round_), ready=True)))
                starts.append(timed(kp, "apply", "--wait", "-f", str(one)))
                timed(kp, "down", str(one))
            app = Path(base) / "app.yaml"
            app.write_text(yaml.safe_dump(deployment("web", 4, "1", ready=True)))
            timed(kp, "apply", "--wait", "-f", str(app))
            rolls = []
            for version in range(2, 5):
                app.write_text(yaml.safe_dump(deployment("web", 4, str(version), ready=True)))
                rolls.append(timed(kp, "apply", "-f", str(app)))
            timed(kp, "down", str(app))
        finally:
            kp.cleanup()
    start = statistics.median(starts)
    roll = statistics.median(rolls)
    print("| operation | median (min-max) | note |\n|---|---|---|")
    print(f"| apply of an unchanged 10-Deployment file | {statistics.median(unchanged):.2f} s "
          f"({min(unchanged):.2f}-{max(unchanged):.2f}) | target <= 0.3 s; {REPEAT} runs |")
    print(f"| one pod started and Ready (apply --wait of 1 replica) | {start:.2f} s "
          f"({min(starts):.2f}-{max(starts):.2f}) | tcpSocket readiness, periodSeconds 1 |")
    print(f"| rolling update of 4 replicas (maxSurge 1, maxUnavailable 0) | {roll:.2f} s "
          f"({min(rolls):.2f}-{max(rolls):.2f}) | 4 x start+Ready = {4 * start:.2f} s; "
          f"overhead per step {(roll - 4 * start) / 4:.2f} s |")


if __name__ == "__main__":
    main()

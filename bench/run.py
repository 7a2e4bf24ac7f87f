"""`make bench`: set up a registry and images, run every row against both engines, clean up, report.

Usage: python -m bench [--quick] [--only TEXT] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import report, rows_images, rows_pods, rows_probes
from bench.context import Bench
from bench.engines import BenchError, Kubeplay, Podman
from bench.hoststate import (
    HostSnapshot,
    own_cgroups,
    processes_mentioning,
    restore_podman_traces,
    return_to_cgroups,
    unmount_below,
)
from bench.images import build_images
from tests.support.registry import Registry

RESULTS = Path(__file__).with_name("RESULTS.md")


def _setup(workdir: Path) -> Bench:
    registry = Registry(workdir / "registry").start()
    try:
        images = build_images()
        client = registry.client()
        client.push_image("bench/busybox", "bench", images.busybox)
        client.push_image("bench/large", "bench", images.large)
        bench = Bench(workdir, registry, Kubeplay(workdir / "kp"), Podman(workdir / "pm"),
                      f"{registry.host}/bench/busybox:bench", f"{registry.host}/bench/large:bench")
        for engine in bench.engines:
            engine(*engine.pull_args(bench.busybox_ref))
    except BaseException:
        registry.stop()
        raise
    return bench


def _steps(bench: Bench, quick: bool) -> list[tuple[str, Callable[[], None]]]:
    few, many = (2, 3) if quick else (9, 10)  # 9 rounds of the single-pod rows: podman's own figure varies ±15%
    return [
        ("start-up", lambda: rows_images.startup(bench, many)),
        ("play and down of a 2-container pod", lambda: rows_pods.play_and_down(
            bench, "of a 2-container pod", rows_pods.manifests.write(
                bench.manifest_path("pod.yaml"), [rows_pods.manifests.web_pod("bench-pod", bench.busybox_ref)]),
            few, 0.75, "same terminationGracePeriodSeconds (10 s); containers exit on SIGTERM at once; podman's "
            "`kube down` kills them without waiting, and its time varies with the removal of its pod's cgroup",
            down_target_ratio=0.6)),
        ("10 pods", lambda: rows_pods.play_and_down(
            bench, "of 10 pods", rows_pods.manifests.many_pods(
                bench.manifest_path("pods-10.yaml"), "bench", 10, bench.busybox_ref),
            2 if quick else 3, 0.5, "10 Pod documents in one file, 1 container each")),
        ("50 pods, listing, memory", lambda: rows_pods.many_pods_listing_and_memory(
            bench, 50, 1 if quick else 2, few)),  # 2 rounds: at 50 pods one round takes minutes
        ("play to HTTP 200", lambda: rows_pods.play_to_http(bench, few)),
        ("generate", lambda: rows_pods.generate(bench, 3 * few)),  # ~50 ms a round: more rounds are cheap
        ("cold pull", lambda: rows_images.cold_pull(bench, 2 if quick else 3)),
        ("probes: monitor memory", lambda: rows_probes.monitor_memory(bench, 10)),
        ("probes: readiness latency", lambda: rows_probes.readiness_latency(bench, 4 if quick else 10)),
    ]


def _cleanup(bench: Bench, before: HostSnapshot) -> list[str]:
    """Remove every pod, image, network and process the bench made; returns what had to be forced."""
    kp, pm = bench.kubeplay, bench.podman
    steps: list[Callable[[], object]] = [
        lambda: [kp("pod", "rm", "-f", "-t", "0", pod["name"], check=False)
                 for pod in json.loads(kp("pods", "-A", "--format", "json").stdout or "[]")],
        lambda: kp("system", "reset", "--force", check=False),  # networks, the nft table, the top cgroup
        lambda: pm("pod", "rm", "-a", "-f", "-t", "0", check=False),
        lambda: pm("rmi", "-a", "-f", check=False),
        lambda: pm("network", "rm", "-f", "podman-default-kube-network", check=False),
        bench.registry.stop,
    ]
    forced = []
    for step in steps:
        try:
            step()
        except (BenchError, OSError, ValueError) as exc:
            forced.append(f"cleanup step failed: {exc}")
    for pid in processes_mentioning(str(bench.workdir)):
        forced.append(f"killed leftover process {pid}")
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    forced += [f"unmounted {target}" for target in unmount_below(bench.workdir)]
    forced += [f"removed {thing}" for thing in restore_podman_traces(before)]
    return forced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--only", metavar="TEXT", default="",
                        help="run only the steps whose title contains TEXT; the table is printed, not written")
    parser.add_argument("--output", type=Path, default=None, help=f"where the table goes (default {RESULTS})")
    args = parser.parse_args(argv)
    output = args.output or (None if args.only else RESULTS)
    if os.geteuid() != 0 or shutil.which("podman") is None:
        print("the bench needs root and podman (make bench installs it)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    before = HostSnapshot.take()
    cgroups = own_cgroups()
    workdir = Path(tempfile.mkdtemp(prefix="kpb-", dir="/var/tmp"))  # podman wants short run roots
    failures: list[str] = []
    bench = _setup(workdir)
    version = bench.kubeplay.version()
    try:
        for title, step in _steps(bench, args.quick):
            if args.only not in title:
                continue
            print(f"bench: {title} ...", file=sys.stderr, flush=True)
            try:
                step()
            except BenchError as exc:
                failures.append(f"{title}: {str(exc).strip()[:600]}")
                traceback.print_exc()
            moved = return_to_cgroups(cgroups)
            if moved:
                failures.append(f"{title}: the bench process was found moved into {', '.join(moved)}")
    finally:
        return_to_cgroups(cgroups)
        cleanup = _cleanup(bench, before)
        unmount_below(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    for line in cleanup:
        print(f"bench cleanup: {line}", file=sys.stderr)
    text = report.document(bench.rows, version, failures, time.perf_counter() - started)
    print(report.table(bench.rows))
    if output is not None:
        output.write_text(text)
        print(f"\nwritten to {output}", file=sys.stderr)
    return 1 if failures else 0

"""Rows about pods: play and down, many pods, play to HTTP 200, listing, generate, idle memory.

Repetitions alternate the engines (kubeplay, podman, kubeplay, ...) so slow drift on the machine
(page cache, other load) touches both alike. Each engine plays the very same YAML file, with the
image already in its store, so no pull is timed.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import manifests
from bench.context import Bench, Row
from bench.engines import BenchError, Engine
from bench.memory import kubeplay_processes, pod_processes
from bench.stats import Sample

HTTP_DEADLINE = 30.0
HTTP_RETRY = 0.005


def _play_down(engine: Engine, manifest: Path) -> tuple[float, float]:
    played = engine(*engine.play_args(manifest))
    downed = engine(*engine.down_args(manifest))
    return played.seconds, downed.seconds


def play_and_down(bench: Bench, label: str, manifest: Path, times: int, target_ratio: float,
                  note: str = "", down_target_ratio: float | None = None) -> None:
    figures: dict[str, tuple[list[float], list[float]]] = {e.name: ([], []) for e in bench.engines}
    for engine in bench.engines:
        _play_down(engine, manifest)  # warm-up: caches, podman's pause image, kubeplay's network
    for _ in range(times):
        for engine in bench.engines:
            play, down = _play_down(engine, manifest)
            figures[engine.name][0].append(play)
            figures[engine.name][1].append(down)
    targets = (target_ratio, target_ratio if down_target_ratio is None else down_target_ratio)
    for index, verb in enumerate(("play", "down")):
        bench.add(Row(f"{verb} {label}", Sample(tuple(figures["kubeplay"][index])),
                      Sample(tuple(figures["podman"][index])), f"≤ {targets[index]}", note=note,
                      target_ratio=targets[index]))


def _get_200(port: int, deadline: float) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.perf_counter() < deadline:
        try:
            with opener.open(f"http://127.0.0.1:{port}/index.html", timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(HTTP_RETRY)
    return False


def play_to_http(bench: Bench, times: int) -> None:
    figures: dict[str, list[float]] = {e.name: [] for e in bench.engines}
    for rep in range(times + 1):
        for engine in bench.engines:
            port = bench.host_port()
            manifest = manifests.write(bench.manifest_path(f"http-{engine.name}-{rep}.yaml"),
                                       [manifests.web_pod("bench-http", bench.busybox_ref, port)])
            started = time.perf_counter()
            engine(*engine.play_args(manifest))
            ok = _get_200(port, started + HTTP_DEADLINE)
            elapsed = time.perf_counter() - started
            engine(*engine.down_args(manifest))
            if not ok:
                raise BenchError(f"{engine.name}: no HTTP 200 on 127.0.0.1:{port} within {HTTP_DEADLINE:.0f} s")
            if rep > 0:  # the first round warms up
                figures[engine.name].append(elapsed)
    bench.add(Row("play to HTTP 200 on a hostPort", Sample(tuple(figures["kubeplay"])),
                  Sample(tuple(figures["podman"])), "≤ 0.75", target_ratio=0.75,
                  note="2-container pod; GET 127.0.0.1:hostPort polled every 5 ms; the bound of play itself"))


def generate(bench: Bench, times: int) -> None:
    """Both engines' pods run side by side and the rounds alternate, as the other single-pod rows do:
    at ~50 ms a command, drift on the machine between two separate series was as large as the gap."""
    manifest = manifests.write(bench.manifest_path("generate.yaml"), [manifests.web_pod("bench-gen", bench.busybox_ref)])
    engines = [(engine, engine.generate_args("bench-gen")) for engine in bench.engines]
    running = [engine for engine, args in engines if args is not None]
    figures: dict[str, list[float]] = {engine.name: [] for engine in running}
    try:
        for engine in running:
            engine(*engine.play_args(manifest))
        for rep in range(times + 1):
            for engine, args in engines:
                if args is not None:
                    seconds = engine(*args).seconds
                    if rep > 0:  # the first round warms up
                        figures[engine.name].append(seconds)
    finally:
        for engine in running:
            engine(*engine.down_args(manifest), check=False)
    samples = {engine.name: Sample(tuple(figures[engine.name])) if args is not None else None for engine, args in engines}
    kubeplay = samples["kubeplay"]
    bench.add(Row("generate of a running pod", kubeplay, samples["podman"], "≤ 150 ms absolute", unit="ms",
                  target_absolute=0.150 if kubeplay else None,
                  note=f"2-container pod; {times} rounds, the engines alternating" if kubeplay
                  else "not available: `kubeplay generate` does not exist yet"))


def many_pods_listing_and_memory(bench: Bench, count: int, times: int, listing_times: int) -> None:
    """Play and down `count` pods; in the last round, with them running, time the pod listing and
    weigh their memory. No warm-up round: the smaller rows before this one warmed both engines."""
    manifest = manifests.many_pods(bench.manifest_path(f"pods-{count}.yaml"), "bench", count, bench.busybox_ref)
    plays: dict[str, list[float]] = {e.name: [] for e in bench.engines}
    downs: dict[str, list[float]] = {e.name: [] for e in bench.engines}
    listings: dict[str, Sample] = {}
    memory: dict[str, Sample] = {}
    leftovers: list[int] = []
    for rep in range(times):
        for engine in bench.engines:
            plays[engine.name].append(engine(*engine.play_args(manifest)).seconds)
            try:
                if rep == times - 1:
                    engine(*engine.list_pods_args())  # warm-up
                    listings[engine.name] = Sample(tuple(engine(*engine.list_pods_args()).seconds
                                                         for _ in range(listing_times)))
                    if engine.name == "kubeplay":  # kubectl's form of the same listing
                        listings["kubeplay get"] = Sample(tuple(engine("get", "pods").seconds
                                                                for _ in range(listing_times)))
                    time.sleep(1.0)  # let the pods settle into idle before weighing them
                    memory[engine.name] = Sample((pod_processes(engine.base).pss_kib() / 1024 / count,))
                    if engine.name == "kubeplay":
                        leftovers = kubeplay_processes(engine.base)
            finally:
                downs[engine.name].append(engine(*engine.down_args(manifest)).seconds)
    note = (f"{count} Pod documents in one file, 1 container each; a Deployment with replicas: {count} "
            "is not compared: podman plays it as 1 pod")
    for verb, figures in (("play", plays), ("down", downs)):
        bench.add(Row(f"{verb} of {count} pods", Sample(tuple(figures["kubeplay"])), Sample(tuple(figures["podman"])),
                      "≤ 0.5", note=note, target_ratio=0.5))
    bench.add(Row(f"`pods` listing with {count} pods running", listings["kubeplay"], listings["podman"],
                  "≤ 1.0", unit="ms", target_ratio=1.0, note="podman: `podman pod ps`"))
    bench.add(Row(f"`get pods` listing with {count} pods running", listings["kubeplay get"], listings["podman"],
                  "≤ 1.0", unit="ms", target_ratio=1.0, note="podman: `podman pod ps`"))
    left = f"kubeplay processes left after play: {len(leftovers)}" + (f" (pids {leftovers})" if leftovers else "")
    bench.add(Row("memory per idle pod (PSS)", memory["kubeplay"], memory["podman"], "≤ 1.0", unit="MiB",
                  target_ratio=1.0, note=f"infra + 1 member: conmons and everything below them, "
                                         f"averaged over {count} pods; {left}"))

"""Rows about images and start-up: cold pull of the large image, `--version`, listing an empty store.

A cold pull starts from an empty store each time: each repetition gets fresh engine directories,
initialised by one untimed listing, so the timed pull pays for the download, the digest checks and
the unpacking, and not for creating the store.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from bench.context import Bench, Row
from bench.engines import Engine, Kubeplay, Podman, run_timed
from bench.hoststate import unmount_below
from bench.stats import Sample


def _fresh(kind: type[Engine], base: Path) -> Engine:
    engine = kind(base)
    engine("images")  # creates the store, untimed
    return engine


def _discard(engine: Engine) -> None:
    if isinstance(engine, Podman):
        engine("rmi", "-a", "-f", check=False)
    unmount_below(engine.base)
    shutil.rmtree(engine.base, ignore_errors=True)


def cold_pull(bench: Bench, times: int) -> None:
    figures: dict[str, list[float]] = {"kubeplay": [], "podman": []}
    kinds: tuple[type[Engine], ...] = (Kubeplay, Podman)
    for rep in range(times):
        for kind in kinds:
            engine = _fresh(kind, bench.workdir / f"pull-{kind.__name__.lower()[:2]}-{rep}")
            try:
                figures[engine.name].append(engine(*engine.pull_args(bench.large_ref)).seconds)
            finally:
                _discard(engine)
    bench.add(Row("cold pull of the large image", Sample(tuple(figures["kubeplay"])),
                  Sample(tuple(figures["podman"])), "≤ 0.8", target_ratio=0.8,
                  note="3 layers, ~156 MB unpacked (~99 MB gzip), ~5100 files; empty store each time"))


def _timed(run: Callable[[], float], times: int) -> Sample:
    run()  # warm-up: page cache, .pyc files
    return Sample(tuple(run() for _ in range(times)))


def startup(bench: Bench, times: int) -> None:
    kp, pm = bench.kubeplay, bench.podman
    bench.add(Row(
        "`--version` (start-up)",
        _timed(lambda: run_timed([kp.script, "--version"], kp.env).seconds, times),
        _timed(lambda: run_timed(["podman", "--version"], pm.env).seconds, times),
        "≤ 150 ms absolute", unit="ms", target_absolute=0.150))
    empty_kp = _fresh(Kubeplay, bench.workdir / "kp-empty")
    empty_pm = _fresh(Podman, bench.workdir / "pm-empty")
    try:
        bench.add(Row(
            "`pods` on an empty store (start-up)",
            _timed(lambda: empty_kp(*empty_kp.list_pods_args()).seconds, times),
            _timed(lambda: empty_pm(*empty_pm.list_pods_args()).seconds, times),
            "≤ 150 ms absolute", unit="ms", target_absolute=0.150, note="podman: `podman pod ps`"))
    finally:
        _discard(empty_kp)
        _discard(empty_pm)

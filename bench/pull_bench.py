"""Cold pull bench: the bench's large image from a local docker-registry, kubeplay against `podman
pull` in the same run, alternating engines, an empty store each time.

    .venv/bin/python -m bench.pull_bench [--rounds 5] [--only kubeplay] [--profile OUT.prof]
    .venv/bin/python -m bench.pull_bench --serve DIR   # keep a registry up; prints its image reference
    .venv/bin/python -m bench.pull_bench --ref HOST/bench/large:bench   # use a registry already up

Needs root and podman. Only 127.0.0.1 is contacted. `--profile` runs kubeplay's pull once more in
this process under cProfile (threads are not profiled: worker time shows as waits).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.engines import Engine, Kubeplay, Podman
from bench.hoststate import unmount_below
from bench.images import large_image
from tests.support.registry import Registry


def _pull_once(kind: type[Engine], base: Path, reference: str) -> float:
    engine = kind(base)
    try:
        engine("images")  # creates the store, untimed
        return engine(*engine.pull_args(reference)).seconds
    finally:
        if isinstance(engine, Podman):
            engine("rmi", "-a", "-f", check=False)
        unmount_below(engine.base)
        shutil.rmtree(engine.base, ignore_errors=True)


def _profile(reference: str, workdir: Path, output: Path) -> None:
    import cProfile

    from kubeplay.config import Settings
    from kubeplay.images.pull import pull_image

    root = workdir / "profile"
    settings = Settings(root=root / "root", runroot=root / "runroot")
    try:
        cProfile.runctx("pull_image(settings, reference, tls_verify=False)", globals(),
                        {"pull_image": pull_image, "settings": settings, "reference": reference},
                        str(output))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"profile written to {output}", file=sys.stderr)


def _push(registry: Registry) -> str:
    registry.client().push_image("bench/large", "bench", large_image())
    return f"{registry.host}/bench/large:bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pull_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("kubeplay", "podman"))
    parser.add_argument("--ref", help="pull this reference from a registry already running")
    parser.add_argument("--serve", type=Path, help="start a registry in DIR, push the image, and keep it up")
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args(argv)
    if args.serve:
        registry = Registry(args.serve).start()
        print(_push(registry), "pid", registry.process.pid if registry.process else "?")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="kpp-", dir="/var/tmp"))
    registry = None
    try:
        reference = args.ref
        if reference is None:
            registry = Registry(workdir / "registry").start()
            reference = _push(registry)
        if args.profile:
            _profile(reference, workdir, args.profile)
            return 0
        kinds: list[type[Engine]] = [Kubeplay, Podman]
        if args.only:
            kinds = [Kubeplay if args.only == "kubeplay" else Podman]
        times: dict[str, list[float]] = {kind.__name__: [] for kind in kinds}
        for round_ in range(args.rounds):
            for kind in kinds:
                seconds = _pull_once(kind, workdir / f"{kind.__name__}-{round_}", reference)
                times[kind.__name__].append(seconds)
                print(f"{kind.__name__:9} round {round_}: {seconds:.2f} s", file=sys.stderr, flush=True)
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            print(f"{name}: median {medians[name]:.2f} s (min {min(values):.2f}, max {max(values):.2f})")
        if len(medians) == 2:
            print(f"ratio kubeplay/podman: {medians['Kubeplay'] / medians['Podman']:.2f}")
    finally:
        if registry is not None:
            registry.stop()
        unmount_below(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
    raise SystemExit(code)

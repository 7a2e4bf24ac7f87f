"""Where kubeplay's time goes, for the rows it loses: `python -m bench.profile`.

Prints the slowest imports of `--version` and `pods` (python -X importtime) and the costliest
kubeplay functions of `play` and `down` of the bench's 2-container pod (cProfile), from an image
imported into a private store; everything it makes is removed at the end.
"""

from __future__ import annotations

import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import manifests
from bench.hoststate import unmount_below
from tests.support.imagebuild import write_rootfs_tar

IMAGE = "localhost/bench/busybox:latest"


def _kubeplay(base: Path, *args: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, *(wrap or []), "-m", "kubeplay", "--root", str(base / "root"),
            "--runroot", str(base / "run"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def slowest_imports(stderr: str, count: int = 8) -> list[str]:
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    return [f"{micros / 1000:7.1f} ms {name}" for micros, name in sorted(rows, reverse=True)[:count]]


def costliest_calls(profile: Path, count: int = 15) -> list[str]:
    stats = pstats.Stats(str(profile))
    rows = [(value[3], f"{func[0]}:{func[1]}({func[2]})") for func, value in stats.stats.items()  # type: ignore[attr-defined]
            if "/kubeplay/" in func[0] and "cli/main.py" not in func[0]]
    return [f"{seconds * 1000:7.0f} ms {where.split('/kubeplay/', 1)[1]}" for seconds, where in sorted(rows, reverse=True)[:count]]


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="kpb-prof-", dir="/var/tmp"))
    try:
        for title, args in (("--version", ["--version"]), ("pods (empty store)", ["pods"])):
            print(f"== imports of `kubeplay {title}`")
            print("\n".join(slowest_imports(_kubeplay(base, *args, wrap=["-X", "importtime"]).stderr)))
        _kubeplay(base, "image", "import", str(write_rootfs_tar(base / "rootfs.tar")), IMAGE, "--change", 'CMD ["sh"]')
        pod = manifests.write(base / "pod.yaml", [manifests.web_pod("bench-prof", IMAGE)])
        _kubeplay(base, "play", "-q", str(pod))  # warm-up: the network, the runtime probe
        _kubeplay(base, "down", "-q", str(pod))
        for verb in ("play", "down"):
            out = base / f"{verb}.prof"
            done = _kubeplay(base, verb, "-q", str(pod), wrap=["-m", "cProfile", "-o", str(out)])
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            print(f"== `kubeplay {verb}` of a 2-container pod: cumulative time of kubeplay functions")
            print("\n".join(costliest_calls(out)))
    finally:
        _kubeplay(base, "pod", "rm", "-f", "-t", "0", "bench-prof")
        _kubeplay(base, "network", "rm", "kubeplay")
        unmount_below(base)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

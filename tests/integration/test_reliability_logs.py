"""Container logs rotated as the kubelet does, with no daemon: conmon caps the file it writes, every
visit of `logs` gives that file a numbered name so conmon's next fresh start keeps it, and only the
newest files are kept (sizes and counts here are small ones set through CONTAINERS_CONF_OVERRIDE)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import BUSYBOX
from tests.integration.test_reliability_faults import assert_nothing_left

pytestmark = pytest.mark.root

SIZE = 256 << 10


def configure(pods, size: int, files: int) -> None:
    conf = pods.kp.base / "containers-override.conf"
    conf.write_text(f"[containers]\nlog_size_max = {size}\nlog_max_files = {files}\n")
    pods.kp.env["CONTAINERS_CONF_OVERRIDE"] = str(conf)


def log_files(pods, pod: str, container: str) -> dict[str, int]:
    directory = pods.kp.root / "containers" / pods.container(pod, container)["id"]
    return {path.name: path.stat().st_size for path in directory.iterdir() if path.name.startswith("ctr.log")}


def distinct_sizes(pods, pod: str, container: str) -> list[int]:
    """Sizes of the log's distinct files (a rotated name and the written file may be one file)."""
    directory = pods.kp.root / "containers" / pods.container(pod, container)["id"]
    seen = {}
    for path in directory.iterdir():
        if path.name.startswith("ctr.log") and not path.name.endswith(".tmp"):
            stat = path.stat()
            seen[stat.st_ino] = stat.st_size
    return list(seen.values())


def test_logs_visits_keep_the_newest_files_in_order(pods):
    configure(pods, SIZE, 3)
    # six phases of ~150 KiB of records each (2500 lines of ~60 bytes once stamped), each waiting
    # for a go file: between phases the test visits `logs`, as a user looking at the log would
    phase = ("i=0; while [ $i -lt 2500 ]; do echo phase-$p-line-$i; i=$((i+1)); done; echo phase-$p-done; "
             "while [ ! -e /tmp/go-$p ]; do sleep 0.1; done")
    script = f"for p in 1 2 3 4 5 6; do {phase}; done; echo all-done; sleep 3600"
    container = {"name": "talk", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script]}
    manifest = pods.write("phases.yaml", pods.pod("phases", container))
    assert pods("play", str(manifest)).returncode == 0
    for number in range(1, 7):
        pods.wait_for(lambda: f"phase-{number}-done" in pods.logs("phases"), 60, f"phase {number}")
        assert pods("exec", "phases", "--", "touch", f"/tmp/go-{number}").returncode == 0
    pods.wait_for(lambda: "all-done" in pods.logs("phases"), 60, "the end")

    sizes = distinct_sizes(pods, "phases", "talk")
    assert len(sizes) <= 3 and all(size <= SIZE for size in sizes), log_files(pods, "phases", "talk")
    lines = pods.logs("phases").splitlines()
    assert lines[-1] == "all-done"
    # more than one file is read (one file holds under 4400 of these lines), in order, nothing twice,
    # and the oldest phases are gone
    assert len(lines) > SIZE // 60, (len(lines), log_files(pods, "phases", "talk"))
    numbered = [line for line in lines if "-line-" in line]
    order = [(int(line.split("-")[1]), int(line.split("-")[3])) for line in numbered]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert "phase-1-line-0" not in lines and "phase-6-done" in lines
    tail = pods("logs", "--tail", "3", "phases")
    assert tail.stdout.splitlines() == ["phase-6-line-2499", "phase-6-done", "all-done"]
    assert pods("down", str(manifest)).returncode == 0
    assert_nothing_left(pods)


def test_a_burst_leaves_at_most_the_configured_files_and_logs_shows_the_newest_lines(pods):
    configure(pods, SIZE, 5)
    # ~5 MB of output at once, with `logs` visiting meanwhile: ~10 MB of records against 5 files of 256 KiB
    script = "yes 0123456789012345678901234567890123456789 | head -c 5242880; echo; echo last-line; sleep 3600"
    container = {"name": "talk", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script]}
    manifest = pods.write("burst.yaml", pods.pod("burst", container))
    assert pods("play", str(manifest)).returncode == 0
    pods.wait_for(lambda: pods.logs("burst").endswith("last-line\n"), 120, "the last line")
    sizes = distinct_sizes(pods, "burst", "talk")
    assert len(sizes) <= 5 and all(size <= SIZE for size in sizes), log_files(pods, "burst", "talk")
    shown = pods.logs("burst").splitlines()
    assert shown[-1] == "last-line"
    assert 0 < len(shown) <= 5 * SIZE // 41
    assert pods("down", str(manifest)).returncode == 0
    assert_nothing_left(pods)

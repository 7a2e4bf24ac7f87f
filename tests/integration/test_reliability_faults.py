"""Reliability under faults: whatever fails or is cut short leaves nothing half-made.

A removal whose runtime refuses every delete still removes the rest (mounts, conmon, network,
files, the record) and reports the failures; SIGTERM and SIGHUP of `play` roll back as Ctrl-C
does, at whatever point they come; `down` ends a restart waiting out its back-off; a pull killed
half-way is resumed by the next pull, and `image prune` removes what it left."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX, conmon_pids_for
from tests.support.registry import ThrottledProxy

pytestmark = pytest.mark.root

FLAKY_RUNTIME = """#!/bin/sh
# runc, except that `delete` fails while a file named fail-delete sits next to this script
for arg in "$@"; do
  if [ "$arg" = delete ] && [ -e "$(dirname "$0")/fail-delete" ]; then
    echo '{"level":"error","msg":"injected failure: delete refused"}' >&2
    exit 1
  fi
done
exec runc "$@"
"""


def idle(name: str) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}


def processes_with(*words: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if all(any(word in arg for arg in argv) for word in words):
                found.append(int(entry.name))
    return found


def assert_nothing_left(pods, name: str = "") -> None:
    listed = json.loads(pods("pods", "--format", "json").stdout or "[]")
    assert [entry["name"] for entry in listed if not name or entry["name"] == name] == []
    assert pods.kp.leftover_mounts() == []
    assert conmon_pids_for(pods.kp.runroot) == []
    run = pods.kp.runroot
    for directory in ("netns", "containers", "sockets", "pods"):
        left = sorted(p.name for p in (run / directory).iterdir()) if (run / directory).is_dir() else []
        assert left == [], f"{directory}: {left}"


def test_a_removal_whose_runtime_fails_still_removes_everything_else(pods):
    runtime = pods.kp.base / "flaky-runc"
    runtime.write_text(FLAKY_RUNTIME)
    runtime.chmod(0o755)
    manifest = pods.write("pair.yaml", pods.pod("pair", idle("a"), idle("b")))
    played = pods("--runtime", str(runtime), "play", str(manifest))
    assert played.returncode == 0, played.stderr
    (pods.kp.base / "fail-delete").touch()
    down = pods("--runtime", str(runtime), "down", str(manifest))
    error = down.assert_fails_cleanly(exit_codes=(125,), mentions=("injected failure",))
    assert error.count("injected failure") == 3, error  # the infra's delete and both members': all told
    assert_nothing_left(pods)
    (pods.kp.base / "fail-delete").unlink()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_at_any_point_of_play_rolls_back(pods, signal_number):
    manifest = pods.write("pair.yaml", pods.pod("pair", idle("a"), idle("b")))
    endings = []
    for delay in (0.1, 0.2, 0.3, 0.4, 0.5, 0.7):
        process = pods.kp.popen("play", str(manifest))
        time.sleep(delay)
        process.send_signal(signal_number)
        stdout, stderr = process.communicate(timeout=60)
        endings.append(process.returncode)
        if "pod/pair created" in stdout:
            # the play had finished when the signal came (it may still end the process on its way
            # out, even by the default action once the interpreter is tearing down): the pod stays
            assert pods("down", str(manifest)).returncode == 0
        elif process.returncode == -signal_number:
            pass  # ended while still loading, before the command began: it had made nothing
        else:
            assert process.returncode == 128 + signal_number, stderr
            assert "Traceback" not in stderr and "interrupted" in stderr, stderr
        assert_nothing_left(pods)
    assert 128 + signal_number in endings, endings  # at least one play was cut short


def test_down_ends_a_restart_waiting_out_its_back_off(pods):
    crashing = {"name": "crash", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", "exit 1"]}
    manifest = pods.write("crash.yaml", pods.pod("crash", crashing))
    assert pods("play", str(manifest)).returncode == 0
    # the first restart is at once; the second waits 10 s: that waiting process must go with the pod
    pods.wait_for(lambda: processes_with(b"container-restart", str(pods.kp.root).encode())
                  and pods.container("crash", "crash")["restartCount"] >= 1, 20, "a restart waiting its back-off")
    assert pods("down", str(manifest)).returncode == 0
    pods.wait_for(lambda: not processes_with(b"container-restart", str(pods.kp.root).encode()), 3,
                  "the restart waiter to be gone")
    assert_nothing_left(pods)


def test_a_removed_container_leaves_no_attach_link(pods):
    manifest = pods.write("pair.yaml", pods.pod("pair", idle("a"), idle("b")))
    assert pods("play", str(manifest)).returncode == 0
    assert len(list((pods.kp.runroot / "sockets").iterdir())) == 3
    assert pods("down", str(manifest)).returncode == 0
    assert list((pods.kp.runroot / "sockets").iterdir()) == []


def _kill_half_way(kp, proxy: ThrottledProxy, reference: str, no_tls_flag: str) -> None:
    process = kp.popen("pull", no_tls_flag, reference)
    try:
        assert proxy.wait_for_bytes(8 << 20, timeout=60), "the pull never got into the big layer"
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)


def _ingests(kp) -> list[Path]:
    directory = kp.root / "blobs" / "sha256"
    return sorted(directory.glob(".ingest-*")) if directory.is_dir() else []


def test_a_killed_pull_is_resumed_by_the_next_pull(kp, registry, big_image, no_tls_flag):
    reference, image = big_image
    layer = image.layers[0].blob
    proxy = ThrottledProxy(registry.port)
    try:
        via_proxy = reference.replace(registry.host, proxy.host)
        _kill_half_way(kp, proxy, via_proxy, no_tls_flag)
        [partial] = _ingests(kp)
        kept = partial.stat().st_size
        assert kept >= 4 << 20
        proxy.throttled = False
        before = proxy.sent
        pulled = kp("pull", no_tls_flag, via_proxy, timeout=180)
        assert pulled.returncode == 0, pulled.stderr
        assert proxy.sent - before < layer.size - kept + (2 << 20), "the second pull downloaded it all again"
        assert _ingests(kp) == []
        assert layer.digest.split(":")[1] in [p.name for p in kp.blob_paths()]
    finally:
        proxy.close()


@pytest.mark.parametrize("removal", [("image", "prune", "--all", "--force"), ("rmi", "--force", "IMAGE")])
def test_what_a_killed_pull_left_is_removed_by_prune_and_rmi(kp, registry, big_image, no_tls_flag, test_images,
                                                            removal):
    reference, _ = big_image
    assert kp("pull", no_tls_flag, test_images.busybox).returncode == 0  # an image for rmi to remove
    proxy = ThrottledProxy(registry.port)
    try:
        _kill_half_way(kp, proxy, reference.replace(registry.host, proxy.host), no_tls_flag)
    finally:
        proxy.close()
    assert len(_ingests(kp)) == 1
    removed = kp(*[test_images.busybox if arg == "IMAGE" else arg for arg in removal])
    assert removed.returncode == 0, removed.stderr
    assert _ingests(kp) == []

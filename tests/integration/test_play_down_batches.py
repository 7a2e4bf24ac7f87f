"""Many pods in one play or down: made and removed concurrently, with the all-or-nothing rule of play,
grace periods that overlap at down, and namespaces made without helper processes."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.integration.conftest import BUSYBOX, conmon_pids_for

pytestmark = pytest.mark.root

# PID 1 of a container ignores SIGTERM without a handler: each of these waits out its grace period
STUBBORN = "while true; do sleep 1; done"


def sh(name: str, script: str) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script]}


def pod_names(pods) -> list[str]:
    listed = pods("pods", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return sorted(pod["name"] for pod in json.loads(listed.stdout))


def test_down_of_several_pods_runs_their_grace_periods_together(pods):
    grace = 2
    names = [f"slow-{number}" for number in range(4)]
    manifest = pods.write("slow.yaml", *[pods.pod(name, sh("main", STUBBORN), terminationGracePeriodSeconds=grace)
                                         for name in names])
    played = pods("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert pod_names(pods) == names
    started = time.monotonic()
    downed = pods("down", str(manifest))
    elapsed = time.monotonic() - started
    assert downed.returncode == 0, downed.stderr
    assert sorted(line.split()[0].removeprefix("pod/") for line in downed.stdout.splitlines()) == names
    assert elapsed >= grace  # each container got its grace period before SIGKILL
    assert elapsed < grace * 2 + 3, f"down took {elapsed:.1f} s: the grace periods ran one after another"
    assert pod_names(pods) == []
    assert conmon_pids_for(pods.kp.runroot) == []  # no conmon waits on for its exit command


def test_a_pod_that_fails_removes_every_pod_of_the_same_play(pods):
    good = [pods.pod(f"good-{number}", sh("main", STUBBORN)) for number in range(3)]
    broken = pods.pod("broken", {"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                                 "command": ["/no/such/program"]})
    manifest = pods.write("batch.yaml", *good[:2], broken, good[2])
    played = pods("play", str(manifest))
    assert played.returncode != 0
    assert "/no/such/program" in played.stderr or "broken" in played.stderr, played.stderr
    assert pod_names(pods) == []
    runroot = pods.kp.runroot
    assert not (runroot / "netns").exists() or not list((runroot / "netns").iterdir())
    assert conmon_pids_for(runroot) == []


def test_pods_of_one_play_know_each_other_and_down_forgets_the_removed(pods):
    names = ["peer-a", "peer-b", "peer-c"]
    manifest = pods.write("peers.yaml", *[pods.pod(name, sh("main", STUBBORN)) for name in names])
    assert pods("play", str(manifest)).returncode == 0
    hosts = pods("exec", "peer-a", "--", "cat", "/etc/hosts")
    assert hosts.returncode == 0, hosts.stderr
    assert "peer-b" in hosts.stdout and "peer-c" in hosts.stdout
    only_c = pods.write("c.yaml", pods.pod("peer-c", sh("main", STUBBORN)))
    assert pods("down", str(only_c)).returncode == 0
    hosts = pods("exec", "peer-a", "--", "cat", "/etc/hosts")
    assert "peer-b" in hosts.stdout and "peer-c" not in hosts.stdout
    assert pods("down", str(manifest)).returncode == 0
    assert pod_names(pods) == []


def test_a_new_namespace_has_loopback_up_and_nothing_else(tmp_path):
    from kubeplay.config import Settings
    from kubeplay.net.netns import create_netns, remove_netns, run_in_netns
    from kubeplay.nsfs import is_namespace_mount

    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    path = create_netns(settings, "lo-only")
    try:
        assert is_namespace_mount(path)
        shown = subprocess.run(["nsenter", f"--net={path}", "ip", "-o", "link"], capture_output=True,
                               text=True, timeout=10)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.strip().splitlines()
        assert len(lines) == 1 and " lo:" in lines[0] and "UP" in lines[0]
        assert create_netns(settings, "lo-only") == path  # idempotent
        def namespace_inode() -> int:
            return os.stat("/proc/thread-self/ns/net").st_ino

        own = namespace_inode()
        assert run_in_netns(path, namespace_inode) == os.stat(path).st_ino != own
        assert namespace_inode() == own  # the calling thread never moved
    finally:
        remove_netns(path)
    assert not is_namespace_mount(path) and not path.exists()

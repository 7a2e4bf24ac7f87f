"""Status tells the truth, and the commands that act on it work from what was stored: after a
wiped run root (a reboot), after the manifests changed, and while an init container crash-loops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.integration.conftest import BUSYBOX, conmon_pids_for
from tests.integration.test_reliability_faults import assert_nothing_left, idle, processes_with
from tests.support.cli import mounts_below

pytestmark = pytest.mark.root


def statuses(pods) -> dict[str, str]:
    result = pods("pods", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry["status"] for entry in json.loads(result.stdout)}


def wipe_run_root(pods) -> None:
    """What a reboot does to the run root: every process of it gone, every mount and file too."""
    pids = [c["pid"] for c in pods.inspect("boot")["containers"] if c["pid"]]
    for pid in conmon_pids_for(pods.kp.runroot) + pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for point in mounts_below(pods.kp.runroot):
        subprocess.run(["umount", "-l", point], check=False, timeout=30)
    shutil.rmtree(pods.kp.runroot)


def test_after_a_wiped_run_root_a_pod_reads_stopped_and_goes_down(pods):
    manifest = pods.write("boot.yaml", pods.pod("boot", idle("a")))
    assert pods("play", str(manifest)).returncode == 0
    assert statuses(pods) == {"boot": "Running"}
    wipe_run_root(pods)
    assert statuses(pods) == {"boot": "Stopped"}
    assert pods.inspect("boot")["reason"] == "host rebooted or run root removed"
    down = pods("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert_nothing_left(pods)


def test_a_pod_played_with_a_configmap_file_goes_down_by_its_manifest_alone(pods):
    configmap = pods.write("cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                       "data": {"greeting": "hello"}})
    container = {**idle("a"), "env": [{"name": "GREETING", "valueFrom": {
        "configMapKeyRef": {"name": "settings", "key": "greeting"}}}]}
    manifest = pods.write("app.yaml", pods.pod("app", container))
    played = pods("play", "--configmap", str(configmap), str(manifest))
    assert played.returncode == 0, played.stderr
    configmap.unlink()  # whatever the files now lack
    down = pods("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert "pod/app deleted" in down.stdout
    assert_nothing_left(pods)


def crashing_init(pods, script: str) -> dict:
    init = {"name": "setup", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}]}
    return pods.pod("slow", {**idle("app"), "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                    initContainers=[init], volumes=[{"name": "work", "emptyDir": {}}])


def test_a_crash_looping_init_container_is_reported_and_play_returns(pods):
    manifest = pods.write("slow.yaml", crashing_init(pods, "exit 3"))
    began = time.monotonic()
    played = pods("play", str(manifest), timeout=30)
    assert played.returncode == 0, played.stderr
    assert time.monotonic() - began < 20  # it used to block through 150 s of back-off
    assert "Init:CrashLoopBackOff" in played.stderr
    assert statuses(pods) == {"slow": "Init:CrashLoopBackOff"}
    waiting = processes_with(b"container-restart", str(pods.kp.root).encode())
    assert waiting, "no process retries the init container"
    assert pods("down", str(manifest)).returncode == 0
    pods.wait_for(lambda: not processes_with(b"container-restart", str(pods.kp.root).encode()), 3,
                  "the retrying process to be gone")
    assert_nothing_left(pods)


def test_an_init_container_that_succeeds_on_its_retry_starts_the_pod(pods):
    manifest = pods.write("slow.yaml", crashing_init(pods, "[ -e /work/tried ] && exit 0; touch /work/tried; exit 1"))
    played = pods("play", str(manifest), timeout=30)
    assert played.returncode == 0, played.stderr
    assert statuses(pods) == {"slow": "Init:CrashLoopBackOff"}
    pods.wait_for(lambda: statuses(pods) == {"slow": "Running"}, 30, "the retried init container to let the pod start")
    setup = pods.container("slow", "setup")
    assert (setup["state"], setup["exitCode"], setup["restartCount"]) == ("exited", 0, 1)
    assert pods.container("slow", "app")["state"] == "running"
    assert pods("down", str(manifest)).returncode == 0
    assert_nothing_left(pods)

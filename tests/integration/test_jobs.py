"""Jobs on the real runtime: driven to completion by exit callbacks alone, failed past their limits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


def job(name: str, script: str, policy: str = "Never", **spec: object) -> dict:
    container = {"name": "work", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {"spec": {"restartPolicy": policy, "containers": [container]}}}}


def jobs_json(pods) -> dict[str, dict]:
    result = pods("jobs", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def pods_json(pods) -> dict[str, dict]:
    result = pods("pods", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def wait_job(pods, name: str, state: str, timeout: float = 40) -> dict:
    return pods.wait_for(lambda: (j := jobs_json(pods).get(name)) and j["status"] == state and j,
                         timeout, f"job {name} to be {state}")


def deadline_sleepers(root: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"deadline" in argv and any(str(root).encode() in arg for arg in argv):
                found.append(int(entry.name))
    return found


def test_completions_with_parallelism_run_to_complete(pods):
    manifest = pods.write("count.yaml", job("count", "echo ran-$(hostname); sleep 0.3",
                                            completions=3, parallelism=2))
    result = pods("play", str(manifest))
    assert result.returncode == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if line.startswith("pod/count-")]) == 2  # parallelism
    done = wait_job(pods, "count", "Complete")
    assert (done["completions"], done["succeeded"], done["failed"], done["active"]) == ("3/3", 3, 0, 0)
    listed = pods_json(pods)
    assert sorted(listed) == sorted(done["pods"]) and len(listed) == 3
    for name, entry in listed.items():
        assert name.startswith("count-") and len(name) == len("count-") + 5
        assert entry["status"] == "Completed"
        assert pods.logs(name).strip() == f"ran-{name}"  # a started copy is its own pod, hostname included
    table = pods("jobs").stdout.splitlines()
    assert table[0].split() == ["NAME", "COMPLETIONS", "DURATION", "STATUS"]
    assert table[1].split()[0:2] == ["count", "3/3"] and table[1].split()[-1] == "Complete"
    down = pods("down", str(manifest))
    assert down.returncode == 0, down.stderr
    assert pods_json(pods) == {} and jobs_json(pods) == {}


def test_failing_pod_stops_after_backoff_limit(pods):
    manifest = pods.write("flop.yaml", job("flop", "exit 3", backoffLimit=2))
    assert pods("play", str(manifest)).returncode == 0
    failed = wait_job(pods, "flop", "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    # give a wrongly started extra pod the time to show up
    pods.wait_for(lambda: all(p["status"] == "Error" for p in pods_json(pods).values()), 10, "pods to settle")
    listed = pods_json(pods)
    assert len(listed) == 3, listed  # the first try and backoffLimit retries, no more
    assert {entry["status"] for entry in listed.values()} == {"Error"}
    assert pods("down", str(manifest)).returncode == 0
    assert pods_json(pods) == {}


def test_on_failure_restarts_count_towards_backoff_limit(pods):
    manifest = pods.write("retry.yaml", job("retry", "exit 1", policy="OnFailure", backoffLimit=1))
    assert pods("play", str(manifest)).returncode == 0
    failed = wait_job(pods, "retry", "Failed", timeout=40)
    assert failed["reason"] == "BackoffLimitExceeded"
    listed = pods_json(pods)
    assert len(listed) == 1  # restarted in place, never replaced
    (entry,) = listed.values()
    assert entry["restarts"] == 1 and entry["status"] == "Stopped"


def test_active_deadline_stops_a_long_job_and_its_timer_ends(pods):
    manifest = pods.write("slow.yaml", job("slow", "trap 'exit 143' TERM; sleep 60 & wait",
                                           activeDeadlineSeconds=2, completions=2))
    assert pods("play", str(manifest)).returncode == 0
    assert deadline_sleepers(pods.kp.runroot)
    failed = wait_job(pods, "slow", "Failed", timeout=20)
    assert failed["reason"] == "DeadlineExceeded" and failed["succeeded"] == 0
    (entry,) = pods_json(pods).values()
    assert entry["status"] == "Stopped"
    pods.wait_for(lambda: not deadline_sleepers(pods.kp.runroot), 10, "the deadline timer to end")
    assert pods("down", str(manifest)).returncode == 0


def test_down_ends_the_deadline_timer_of_a_running_job(pods):
    manifest = pods.write("long.yaml", job("long", "trap 'exit 143' TERM; sleep 60 & wait", activeDeadlineSeconds=600))
    assert pods("play", str(manifest)).returncode == 0
    assert deadline_sleepers(pods.kp.runroot)
    assert pods("down", str(manifest)).returncode == 0
    pods.wait_for(lambda: not deadline_sleepers(pods.kp.runroot), 10, "the deadline timer to end")
    assert os.path.exists(pods.kp.root)

"""Reliability of Jobs: a Job never runs more pods than `completions`, however its first pods'
exits interleave with the play that makes them (each exit callback counts the job's pods; one that
counted before the play had recorded them all started one pod too many). With parallelism equal to
completions the play makes every pod itself, so any pod started by a callback is one too many;
before the play held the job's lock, the first round already made 7."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root

ROUNDS = 5
JOBS_PER_PLAY = 2  # 10 Job plays in all, two at once: their first pods end while the play makes the rest
COMPLETIONS = 6


def quick_job(name: str) -> dict:
    container = {"name": "work", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["true"]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"completions": COMPLETIONS, "parallelism": COMPLETIONS,
                     "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                                           "containers": [container]}}}}


def jobs_json(pods) -> dict[str, dict]:
    result = pods("jobs", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_a_job_runs_exactly_completions_pods_over_ten_plays(pods):
    names = [f"quick{index}" for index in range(JOBS_PER_PLAY)]
    manifest = pods.write("quick.yaml", *[quick_job(name) for name in names])
    counts = []
    for _ in range(ROUNDS):
        played = pods("play", str(manifest))
        assert played.returncode == 0, played.stderr
        done = pods.wait_for(lambda: (jobs := jobs_json(pods)) and all(
            jobs.get(name, {}).get("status") == "Complete" for name in names) and jobs, 60, "the jobs to complete")
        # a pod started one too many may still be under way when the job reads Complete: count after
        # every pod of the store has ended
        listed = pods.wait_for(lambda: (found := json.loads(pods("pods", "--format", "json").stdout))
                               and all(p["status"] in ("Completed", "Error") for p in found) and found,
                               30, "every pod to end")
        for name in names:
            made = [p for p in listed if p["name"].startswith(f"{name}-")]
            counts.append(len(made))
            assert done[name]["succeeded"] == COMPLETIONS
        down = pods("down", str(manifest))
        assert down.returncode == 0, down.stderr
    assert counts == [COMPLETIONS] * (ROUNDS * JOBS_PER_PLAY), counts

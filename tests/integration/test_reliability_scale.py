"""A pod of many containers: play starts every one (no fixed limit on descriptors or on waits that a
busy host outgrows), `pods` and `pod inspect` show them all, and down leaves nothing. The size here
keeps the test short; the same path was run with 500 containers."""

from __future__ import annotations

import pytest

from tests.integration.test_reliability_faults import assert_nothing_left, idle

pytestmark = pytest.mark.root

CONTAINERS = 150


def test_a_pod_of_many_containers_plays_and_goes(pods):
    manifest = pods.write("big.yaml", pods.pod("big", *[idle(f"c{index}") for index in range(CONTAINERS)]))
    played = pods("play", str(manifest), timeout=300)
    assert played.returncode == 0, played.stderr
    members = [c for c in pods.inspect("big")["containers"] if c["role"] == "member"]
    assert len(members) == CONTAINERS and {c["state"] for c in members} == {"running"}
    assert f"{CONTAINERS}/{CONTAINERS}" in pods("pods").stdout
    down = pods("down", str(manifest), timeout=300)
    assert down.returncode == 0, down.stderr
    assert_nothing_left(pods)

"""Every manifest in manifests/examples/ plays, does its work, and goes down cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"
IMAGE = "localhost:5000/busybox:latest"

# what each example's first matching container prints once it works: (pod name prefix, container, text)
EVIDENCE = {
    "app-from-configmap.yaml": ("configured-app", "app", "level=debug flags=search,export"),
    "frontend-backend.yaml": ("frontend", "web", '{"status":"ok"}'),
    "hardened.yaml": ("hardened", "app", "scratch writable"),
    "migrate-job.yaml": ("migrate-", "migrate", "applying"),
    "node-agent.yaml": ("node-agent-", "agent", "agent node-agent-"),
    "secret-consumer.yaml": ("secret-consumer", "client", "user=app has a password"),
    "store-with-claim.yaml": ("store-", "store", "boot 1"),
    "web-and-cache.yaml": ("web-and-cache", "warmer", "warmed"),
    "workers-replicaset.yaml": ("workers-", "worker", "ready"),
}
GOOD = {"Running", "Completed"}


@pytest.fixture
def example_pods(pods, rootfs_tar):
    imported = pods("image", "import", str(rootfs_tar), IMAGE, "--change", 'CMD ["sh"]')
    assert imported.returncode == 0, imported.stderr
    return pods


def _listed(pods) -> list[dict]:
    result = pods("pods", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "[]")


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_plays_works_and_goes_down(example_pods, example):
    pods = example_pods
    path = EXAMPLES / example
    played = pods("play", str(path), timeout=180)
    assert played.returncode == 0, played.stderr
    assert "Traceback" not in played.stderr
    listed = pods.wait_for(lambda: (found := _listed(pods)) and all(p["status"] in GOOD for p in found) and found,
                           timeout=60, what=f"{example}'s pods to run")
    if example in EVIDENCE:
        prefix, container, text = EVIDENCE[example]
        name = next(p["name"] for p in listed if p["name"].startswith(prefix))
        pods.wait_for(lambda: text in pods.logs(name, container), timeout=30, what=f"{text!r} in {name}/{container}")
    down = pods("down", "--volumes", str(path), timeout=120)
    assert down.returncode == 0, down.stderr
    assert _listed(pods) == []

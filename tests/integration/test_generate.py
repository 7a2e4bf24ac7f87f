"""The round trip on the real engine: play -> generate -> down -> play the generated YAML -> the same
pods (their stored plans), and generating again gives the same bytes. Plus generate's bad input."""

from __future__ import annotations

import json
import socket

import pytest
import yaml

from kubeplay.config import Settings
from kubeplay.store.db import open_database
from kubeplay.store.pods import PodStore
from tests.integration.conftest import BUSYBOX
from tests.unit.generate_support import CORPUS, comparable

pytestmark = pytest.mark.root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_images(path, target) -> None:
    """The manifest with every image replaced by the test busybox, which is here already, a short
    grace period, and each hostPort a free one (`make demo`'s pod may hold the corpus's 18080); the
    round trip depends on none of them."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for doc in documents:
        spec = doc.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or spec
        if doc["kind"] in ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "Job"):
            # shells ignore SIGTERM as pid 1: without this every down waits the default 30 s
            pod_spec.setdefault("terminationGracePeriodSeconds", 1)
        for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
            container["image"] = BUSYBOX
            container["imagePullPolicy"] = "IfNotPresent"
            for port in container.get("ports") or []:
                if "hostPort" in port:
                    port["hostPort"] = free_port()
    target.write_text(yaml.safe_dump_all(documents, sort_keys=False))


def stored_plans(pods) -> dict[str, object]:
    store = PodStore(open_database(Settings(root=pods.kp.root, runroot=pods.kp.runroot).root))
    return {record.name: record.plan for record in store.list_pods()}


def unique(plans) -> list[str]:
    return sorted({json.dumps(comparable(plan), sort_keys=True) for plan in plans})


@pytest.mark.parametrize("manifest", CORPUS, ids=lambda p: p.name)
def test_play_generate_down_play_gives_the_same_pods(pods, manifest):
    original = pods.manifests / f"original-{manifest.stem}.yaml"
    local_images(manifest, original)
    played = pods("play", str(original))
    assert played.returncode == 0, played.stderr
    before = stored_plans(pods)
    assert before

    generated = pods.manifests / "generated.yaml"
    result = pods("generate", "--include-secrets", "-f", str(generated), *sorted(before))
    assert result.returncode == 0, result.stderr
    assert pods("down", str(original)).returncode == 0
    assert stored_plans(pods) == {}

    replayed = pods("play", str(generated))
    assert replayed.returncode == 0, replayed.stderr
    after = stored_plans(pods)
    assert unique(after.values()) == unique(before.values())

    again = pods("generate", "--include-secrets", *sorted(after))  # pods of one play are made concurrently: name order, not creation order
    assert again.returncode == 0, again.stderr
    assert again.stdout == generated.read_text()
    assert pods("down", str(generated)).returncode == 0


def test_secrets_stay_out_unless_asked_for(pods):
    manifest = pods.write("secret.yaml",
                          {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                           "stringData": {"password": "hunter2-secret"}},
                          pods.pod("app", {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never",
                                           "command": ["sleep", "3600"],
                                           "env": [{"name": "PASSWORD", "valueFrom": {
                                               "secretKeyRef": {"name": "db", "key": "password"}}}]},
                                   terminationGracePeriodSeconds=1))
    assert pods("play", str(manifest)).returncode == 0
    plain = pods("generate", "app")
    assert plain.returncode == 0, plain.stderr
    assert "hunter2" not in plain.stdout and "aHVudGVyMi" not in plain.stdout
    assert "kind: Secret" not in plain.stdout and "secretKeyRef" in plain.stdout
    assert "Secrets were left out (db)" in plain.stderr
    full = pods("generate", "app", "--include-secrets")
    assert "kind: Secret" in full.stdout and "aHVudGVyMi1zZWNyZXQ=" in full.stdout


def test_bad_input_gets_one_clear_message_each(pods):
    manifest = pods.write("app.yaml", pods.pod("app", {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never",
                                                       "command": ["sleep", "3600"]},
                                               terminationGracePeriodSeconds=1))
    assert pods("play", str(manifest)).returncode == 0
    pods("generate", "nosuchpod").assert_fails_cleanly((1,), mentions=("nosuchpod",))
    pods("generate", "app", "--type", "job").assert_fails_cleanly((1,), mentions=("restartPolicy", "Job"))
    pods("generate", "app", "--replicas", "2").assert_fails_cleanly((1,), mentions=("--replicas",))
    pods("generate", "app", "--type", "pod", "--replicas", "2").assert_fails_cleanly((1,), mentions=("--replicas",))
    existing = pods.manifests / "out.yaml"
    existing.write_text("keep me\n")
    pods("generate", "app", "-f", str(existing)).assert_fails_cleanly((1,), mentions=("already exists",))
    assert existing.read_text() == "keep me\n"
    forced = pods("generate", "app", "-f", str(existing), "--force")
    assert forced.returncode == 0, forced.stderr
    assert yaml.safe_load(existing.read_text())["metadata"]["name"] == "app"

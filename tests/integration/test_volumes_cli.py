"""Named volumes from PersistentVolumeClaims, `kubeplay volume`, and Secrets kept out of every output."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root

SLEEP = "trap 'exit 0' TERM; sleep 60 & wait"  # a long-running main process that stops at once on TERM


def claim(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "labels": {"tier": "db"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def store_pod(pods, name: str, script: str) -> dict:
    container = {"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    return pods.pod(name, container, restartPolicy="Never",
                    volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "store"}}])


def volumes(pods) -> dict[str, dict]:
    result = pods("volume", "ls", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_claim_data_survives_down_and_play_and_down_volumes_removes_it(pods):
    writer = pods.write("app.yaml", claim("store"), store_pod(pods, "app", "echo $RANDOM-kept > /data/file; cat /data/file"))
    assert pods("play", str(writer)).returncode == 0
    pods.exited("app", "main")
    written = pods.logs("app").strip()
    assert written.endswith("-kept")
    listed = volumes(pods)
    assert list(listed) == ["store"] and listed["store"]["labels"] == {"tier": "db"}
    assert listed["store"]["usedBy"] == ["app"]
    mountpoint = Path(listed["store"]["mountpoint"])
    assert (mountpoint / "file").read_text().strip() == written

    assert pods("down", str(writer)).returncode == 0
    assert list(volumes(pods)) == ["store"]  # down keeps claims
    reader = pods.write("app.yaml", claim("store"), store_pod(pods, "app", "cat /data/file"))
    assert pods("play", str(reader)).returncode == 0
    pods.exited("app", "main")
    assert pods.logs("app").strip() == written

    down = pods("down", "--volumes", str(reader))
    assert down.returncode == 0, down.stderr
    assert "persistentvolumeclaim/store deleted" in down.stdout
    assert volumes(pods) == {} and not mountpoint.exists()


def test_volume_inspect_and_rm_refused_while_in_use(pods):
    manifest = pods.write("app.yaml", claim("store"), store_pod(pods, "app", SLEEP))
    assert pods("play", str(manifest)).returncode == 0
    shown = pods("volume", "inspect", "store")
    assert shown.returncode == 0, shown.stderr
    (info,) = json.loads(shown.stdout)
    assert info["name"] == "store" and info["usedBy"] == ["app"] and Path(info["mountpoint"]).is_dir()
    table = pods("volume", "ls").stdout.splitlines()
    assert table[0].split()[:2] == ["NAME", "DRIVER"] and table[1].split()[:3] == ["store", "local", "app"]

    refused = pods("volume", "rm", "store")
    refused.assert_fails_cleanly((1,), mentions=("store", "app"))
    assert "store" in volumes(pods)
    missing = pods("volume", "inspect", "nothing-here")
    missing.assert_fails_cleanly((1,), mentions=("nothing-here",))

    forced = pods("volume", "rm", "-f", "store")
    assert forced.returncode == 0, forced.stderr
    assert volumes(pods) == {}
    assert json.loads(pods("pods", "--format", "json").stdout) == []  # -f took the pod with it


def test_down_volumes_refuses_a_claim_another_pod_still_uses(pods):
    user = pods.write("user.yaml", claim("store"), store_pod(pods, "user", SLEEP))
    other = pods.write("other.yaml", claim("store"), store_pod(pods, "other", SLEEP))
    assert pods("play", str(user)).returncode == 0
    assert pods("play", str(other)).returncode == 0
    refused = pods("down", "--volumes", str(user))
    refused.assert_fails_cleanly((1,), mentions=("store", "other"))
    assert "store" in volumes(pods)
    assert pods("down", str(other)).returncode == 0
    assert pods("volume", "rm", "store").returncode == 0


SECRET_VALUE = "s3cr3t-Value-7f1c"


def test_secret_files_are_protected_and_the_value_is_never_printed(pods):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()}}
    container = {"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                 "command": ["/bin/sh", "-c", "stat -c '%a' /etc/creds/password; " + SLEEP],
                 "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
                 "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds", "readOnly": True}]}
    manifest = pods.write("secret.yaml", secret, pods.pod(
        "holder", container, volumes=[{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o440}}]))
    played = pods("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert pods.wait_for(lambda: pods.logs("holder").strip(), what="stat output") == "440"
    seen = pods("exec", "holder", "--", "sh", "-c", "cat /etc/creds/password; echo; echo $PASSWORD")
    assert seen.stdout.split() == [SECRET_VALUE, SECRET_VALUE]  # the container gets it

    outputs = [played.stdout, played.stderr]
    for args in (("pod", "inspect", "holder"), ("pod", "inspect", "holder", "--format", "yaml"), ("ps", "-a"),
                 ("ps", "-a", "--format", "json"), ("pods", "--format", "json"), ("pods",), ("jobs",),
                 ("volume", "ls", "--format", "json")):
        result = pods(*args)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    assert not [text for text in outputs if SECRET_VALUE in text]

    pod_id = pods.inspect("holder")["id"]
    data_dir = pods.kp.root / "pods" / pod_id
    for directory in (data_dir, data_dir / "volumes"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory  # no other host user reaches it
    assert stat.S_IMODE((data_dir / "volumes" / "creds" / "password").stat().st_mode) == 0o440

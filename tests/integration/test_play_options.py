"""play's options on real pods: --no-start, --dry-run, --patch, --configmap, --publish, --format json."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


def server(name: str = "web", page: str = "patched-page") -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never",
            "command": ["/bin/sh", "-c", f"mkdir /www && echo {page} > /www/index.html && exec httpd -f -p 80 -h /www"],
            "ports": [{"containerPort": 80}]}


def get(url: str, attempts: int = 50) -> str:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_no_start_then_pod_start(pods):
    manifest = pods.write("later.yaml", pods.pod("later", server(), terminationGracePeriodSeconds=0))
    assert pods("play", "--no-start", str(manifest)).returncode == 0
    assert pods.inspect("later")["status"] == "Stopped"
    assert pods("pod", "start", "later").returncode == 0
    assert pods.inspect("later")["status"] == "Running"


def test_dry_run_creates_nothing_and_hides_secrets(pods):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "stringData": {"password": "hunter2-very-secret"}}
    pod = pods.pod("dry", {**server(), "env": [{"name": "PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "creds", "key": "password"}}}]})
    result = pods("play", "--dry-run", str(pods.write("dry.yaml", secret, pod)))
    assert result.returncode == 0, result.stderr
    plans = json.loads(result.stdout)
    assert plans[0]["name"] == "dry"
    assert "hunter2" not in result.stdout + result.stderr
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")


def test_patch_and_configmap_files_apply_before_play(pods):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                           "template": {"metadata": {"labels": {"app": "app"}},
                                        "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                                            {**server(), "env": [{"name": "MODE", "valueFrom": {
                                                "configMapKeyRef": {"name": "settings", "key": "mode"}}}]}]}}}}
    manifest = pods.write("app.yaml", deployment)
    patch = pods.manifests / "patch.yaml"
    patch.write_text("target: {kind: Deployment, name: app}\npatch:\n- {op: replace, path: /spec/replicas, value: 2}\n")
    configmap = pods.write("cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                       "data": {"mode": "from-configmap-file"}})
    result = pods("play", "--patch", str(patch), "--configmap", str(configmap), "--format", "json", str(manifest))
    assert result.returncode == 0, result.stderr
    created = [entry["name"] for entry in json.loads(result.stdout) if entry["kind"] == "Pod"]
    assert len(created) == 2 and all(name.startswith("app-") for name in created)
    shown = pods("exec", created[0], "--", "sh", "-c", "echo $MODE")
    assert shown.stdout.strip() == "from-configmap-file"
    # generate carries what the patch and the --configmap file did
    generated = pods("generate", *created)
    assert generated.returncode == 0, generated.stderr
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(generated.stdout)}
    assert documents["Deployment"]["spec"]["replicas"] == 2
    assert documents["ConfigMap"]["data"]["mode"] == "from-configmap-file"


def test_publish_makes_a_port_reachable_from_the_host(pods):
    manifest = pods.write("pub.yaml", pods.pod("pub", server(page="published-page"), terminationGracePeriodSeconds=0))
    assert pods("play", "--publish", "127.0.0.1:18931:80", str(manifest)).returncode == 0
    assert get("http://127.0.0.1:18931/").strip() == "published-page"
    generated = pods("generate", "pub")
    assert generated.returncode == 0, generated.stderr
    port = yaml.safe_load(generated.stdout)["spec"]["containers"][0]["ports"][0]
    assert (port["hostPort"], port["containerPort"], port.get("hostIP")) == (18931, 80, "127.0.0.1")


def test_bad_publish_is_refused(pods):
    manifest = pods.write("badpub.yaml", pods.pod("badpub", server()))
    result = pods("play", "--publish", "99999:80", str(manifest))
    assert result.returncode == 1 and "--publish" in result.stderr and "Traceback" not in result.stderr
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")

"""kubectl's forms against real pods: get (tables, -o yaml checked by the Kubernetes Pod model, -l,
-n/-A, TYPE/NAME, -w), describe with events, namespaces on the listings, completion of pod names."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest
import yaml

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


def sh(name: str, script: str) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script]}


def deployment(name: str, replicas: int, labels: dict, container: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]}}}}


@pytest.fixture
def played(pods):
    """web: a Deployment of 2 in default; api: a pod in namespace team; flaky: a pod that keeps failing."""
    api = pods.pod("api", sh("server", "sleep 3600"))
    api["metadata"].update(namespace="team", labels={"app": "api", "tier": "back"})
    flaky = pods.pod("flaky", sh("fail", "echo failing; exit 3"))
    flaky["metadata"]["labels"] = {"app": "flaky"}
    manifest = pods.write("app.yaml", deployment("web", 2, {"app": "web"}, sh("web", "sleep 3600")), api, flaky)
    result = pods("play", str(manifest))
    assert result.returncode == 0, result.stderr

    def running() -> bool:
        listed = json.loads(pods("pods", "-A", "--format", "json").stdout)
        return len(listed) == 4 and all(p["status"] == "Running" for p in listed if p["name"] != "flaky")

    pods.wait_for(running, what="web and api running")
    return pods


def k8s_pod_dump(obj: dict) -> dict:
    from kubernetes.client import models as k8s

    return k8s.V1Pod.from_dict(obj).model_dump(by_alias=True, exclude_none=True, mode="json")


def without_empty(value):
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


def test_get_pods_yaml_validates_as_kubernetes_pods_with_status(played):
    result = played("get", "pods", "-A", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    listed = yaml.safe_load(result.stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 4
    for obj in listed["items"]:
        assert without_empty(k8s_pod_dump(obj)) == without_empty(obj)  # nothing unknown, nothing mistyped
    api = next(obj for obj in listed["items"] if obj["metadata"]["name"] == "api")
    assert api["metadata"]["namespace"] == "team" and api["metadata"]["labels"] == {"app": "api", "tier": "back"}
    status = api["status"]
    assert status["phase"] == "Running" and status["podIP"] and status["podIPs"] == [{"ip": status["podIP"]}]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    [server] = status["containerStatuses"]
    assert server["name"] == "server" and server["ready"] is True and server["restartCount"] == 0
    assert server["state"]["running"]["startedAt"].endswith("Z") and server["imageID"].startswith("sha256:")
    web = [obj for obj in listed["items"] if obj["metadata"]["name"].startswith("web-")]
    assert len(web) == 2 and all(obj["metadata"]["ownerReferences"][0]["name"] == "web" for obj in web)


def test_a_failing_container_shows_restarts_and_its_last_state(played):
    def restarted_once() -> dict | None:
        obj = json.loads(played("get", "pod", "flaky", "-o", "json").stdout)
        [fail] = obj["status"]["containerStatuses"]
        return fail if fail["restartCount"] >= 1 and fail["lastState"] else None

    fail = played.wait_for(restarted_once, timeout=60, what="flaky to restart")
    ended = fail["lastState"]["terminated"]  # the run before this one, whatever state this one is in
    assert ended["exitCode"] == 3 and ended["reason"] == "Error" and ended["finishedAt"].endswith("Z")
    assert fail["ready"] is False
    text = played("describe", "pod", "flaky").stdout
    assert "Restart Count:" in text
    assert any(line.split() == ["Exit", "Code:", "3"] for line in text.splitlines()), text


def test_selectors_namespaces_and_type_slash_name(played):
    web = played("get", "pods", "-l", "app=web", "-o", "name")
    assert web.returncode == 0, web.stderr
    assert len(web.stdout.split()) == 2 and all(name.startswith("pod/web-") for name in web.stdout.split())
    assert played("get", "pods", "-o", "name").stdout.split().count("pod/api") == 0  # default namespace only
    assert played("get", "pods", "-n", "team", "-o", "name").stdout.split() == ["pod/api"]
    assert played("get", "pods", "-A", "-l", "tier in (back),app!=web", "-o", "name").stdout.split() == ["pod/api"]
    table = played("get", "pods", "-A").stdout.splitlines()
    assert table[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert ["team", "api", "1/1", "Running"] in [line.split()[:4] for line in table]
    short = played("pods", "-n", "team").stdout.splitlines()
    assert [line.split()[0] for line in short] == ["NAME", "api"]
    deploy = played("get", "deploy/web", "pod/api", "-A").stdout
    assert "deployment.apps/web" in deploy and "2/2" in deploy and "pod/api" in deploy
    ip = played("get", "pod/api", "-n", "team", "-o", "jsonpath={.status.podIP}").stdout
    assert ip.count(".") == 3
    columns = played("get", "pods", "-A", "--field-selector", "metadata.namespace=team", "--no-headers",
                     "-o", "custom-columns=NAME:.metadata.name,IP:.status.podIP").stdout.split()
    assert columns == ["api", ip]
    every = played("get", "all").stdout
    replicaset = [line.split() for line in every.splitlines() if line.startswith("replicaset.apps/web-")]
    assert len(replicaset) == 1 and replicaset[0][1:4] == ["2", "2", "2"], every  # DESIRED CURRENT READY
    assert every.index("pod/") < every.index("deployment.apps/web") < every.index("replicaset.apps/web-")
    bad = played("get", "pods", "-l", "app in (web")
    bad.assert_fails_cleanly(exit_codes=(1,), mentions=("column",))
    unknown = played("get", "pods", "nope")
    unknown.assert_fails_cleanly(exit_codes=(1,), mentions=('"nope"',))
    usage = played("get", "pods", "-o", "bogus")
    assert usage.returncode == 1 and "Traceback" not in usage.stderr


def test_describe_pod_ends_with_its_events(played):
    text = played("describe", "pod", "api", "-n", "team")
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert out.startswith("Name:") and "Namespace:        team" in out and "Status:           Running" in out
    assert "Containers:\n  server:\n" in out and "Ready:          True" in out
    events = out[out.index("\nEvents:"):]
    assert "Started" in events and "Started container server" in events
    deploy = played("describe", "deploy", "web").stdout
    assert "2 desired" in deploy and "Started container web" in deploy


def test_a_pod_name_is_unique_per_namespace(played):
    twin = played.pod("api", sh("other", "sleep 3600"))
    twin["metadata"]["namespace"] = "elsewhere"
    manifest = str(played.write("twin.yaml", twin))
    made = played("play", manifest)
    assert made.returncode == 0, made.stderr
    again = played("play", manifest)
    again.assert_fails_cleanly(exit_codes=(1,), mentions=('"api"', "namespace elsewhere"))
    assert "-n elsewhere api" in again.hint_lines()[0]
    assert played("get", "pods", "-n", "team", "-o", "name").stdout.split() == ["pod/api"]
    assert played("get", "pods", "-n", "elsewhere", "-o", "name").stdout.split() == ["pod/api"]
    down = played("down", manifest)  # the file's api is elsewhere's: team's stays
    assert down.returncode == 0 and "pod/api deleted" in down.stdout, down
    assert played("get", "pods", "-n", "team", "-o", "name").stdout.split() == ["pod/api"]
    assert played("get", "pods", "-n", "elsewhere", "-o", "name").stdout.split() == []


def test_watch_prints_a_change_and_a_deletion_and_ends_quietly_on_ctrl_c(played):
    watcher = played.kp.popen("get", "pods", "-n", "team", "-w", "--watch-timeout", "60")
    rows: list[list[str]] = []  # what the watch has printed so far, read as it comes
    reader = threading.Thread(target=lambda: rows.extend(line.split() for line in watcher.stdout if line.strip()),
                              daemon=True)
    reader.start()
    try:
        played.wait_for(lambda: len(rows) >= 2, 30, "the first listing")
        stopped = played("pod", "stop", "-n", "team", "-t", "0", "api")
        assert stopped.returncode == 0, stopped.stderr
        played.wait_for(lambda: any(row[0] == "api" and row[2] not in ("Running", "Terminating") for row in rows[2:]),
                        30, "the stop to be printed")
        removed = played("pod", "rm", "-n", "team", "-f", "-t", "0", "api")
        assert removed.returncode == 0, removed.stderr
        played.wait_for(lambda: rows[-1][:3] == ["api", "0/1", "Terminating"], 30, "the deletion to be printed")
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=20)
        reader.join(20)
        err = watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    assert "interrupted" not in err and "Traceback" not in err
    out = "\n".join(" ".join(row) for row in rows)
    assert rows[0][0] == "NAME" and rows[1][:4] == ["api", "1/1", "Running", "0"], out
    assert any(row[0] == "api" and row[2] not in ("Running", "Terminating") for row in rows[2:]), out
    assert rows[-1][:3] == ["api", "0/1", "Terminating"], out  # the deletion, as kubectl's last line of a pod


def test_completion_prints_pod_names(played):
    script = played("completion", "bash")
    assert script.returncode == 0 and "_KUBEPLAY_COMPLETE" in script.stdout and "complete " in script.stdout
    env = {**played.kp.env, "_KUBEPLAY_COMPLETE": "bash_complete", "COMP_WORDS": "kubeplay pod rm ",
           "COMP_CWORD": "3", "KUBEPLAY_ROOT": str(played.kp.root)}
    done = subprocess.run([sys.executable, "-m", "kubeplay"], env=env, capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    offered = {line.split(",", 1)[1] for line in done.stdout.splitlines()}
    assert {"api", "flaky"} <= offered and sum(name.startswith("web-") for name in offered) == 2
    env["COMP_WORDS"], env["COMP_CWORD"] = "kubeplay get deploy ", "3"
    done = subprocess.run([sys.executable, "-m", "kubeplay"], env=env, capture_output=True, text=True, timeout=30,
                          check=False)
    assert [line.split(",", 1)[1] for line in done.stdout.splitlines()] == ["web"]

    def offered_for(words: str) -> list[str]:
        env["COMP_WORDS"], env["COMP_CWORD"] = words, str(len(words.split()) - (0 if words.endswith(" ") else 1))
        done = subprocess.run([sys.executable, "-m", "kubeplay"], env=env, capture_output=True, text=True,
                              timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]

    assert sorted(offered_for("kubeplay logs ")) == sorted(offered)  # logs, exec, port-forward: pod names
    assert offered_for("kubeplay exec a") == ["api"]
    assert offered_for("kubeplay port-forward deploy/") == ["deploy/web"]
    assert offered_for("kubeplay exec api -c ") == ["server"]  # the containers of the pod named
    assert offered_for("kubeplay logs -c ") == []
    assert offered_for("kubeplay rollout status deploy") == ["deployment/web"]
    assert offered_for("kubeplay scale deploy/") == ["deploy/web"]
    assert offered_for("kubeplay top pod a") == ["api"]
    assert offered_for("kubeplay logs api ") == ["server"]  # kubectl's `logs POD CONTAINER`
    # a -n typed before the name narrows what is offered to that namespace
    assert offered_for("kubeplay logs -n team ") == ["api"]
    assert offered_for("kubeplay pod rm -n team ") == ["api"]
    assert "api" not in offered_for("kubeplay exec -n default ")
    assert offered_for("kubeplay get deploy -n team ") == []
    assert offered_for("kubeplay get deploy -n default ") == ["web"]


def test_version_names_the_runtime_and_conmon(pods):
    shown = pods("version", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert found["client"] and found["runtime"].split()[0] in ("runc", "crun") and found["conmon"][0].isdigit()

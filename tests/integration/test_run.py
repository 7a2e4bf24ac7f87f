"""`kubeplay run`: pods from flags that are ordinary pods (listed, logged, generated), one more
container in a running pod, the round trip of run-made pods, and run's bad input."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.integration.conftest import BUSYBOX
from tests.integration.test_generate import stored_plans, unique

pytestmark = pytest.mark.root

WEB = "mkdir -p /www && echo page-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"


def test_run_makes_an_ordinary_pod_that_generates_and_plays_back_the_same(pods, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "note").write_text("from-the-host\n")
    made = pods("run", "box", "--image", BUSYBOX, "--image-pull-policy", "Never", "--env", "GREETING=hi",
                "--labels", "app=box", "--volume", f"{data}:/data:ro", "--port", "8080",
                "--", "sh", "-c", "echo $GREETING; cat /data/note; exec sleep 3600")
    assert made.returncode == 0, made.stderr
    assert "pod/box created" in made.stdout
    listed = json.loads(pods("pods", "--format", "json").stdout)
    assert [pod["name"] for pod in listed] == ["box"]
    logs = pods.wait_for(lambda: "from-the-host" in (text := pods.logs("box")) and text, what="box output")
    assert "hi" in logs.split()

    before = stored_plans(pods)
    generated = pods.manifests / "box.yaml"
    assert pods("generate", "box", "-f", str(generated)).returncode == 0
    document = yaml.safe_load(generated.read_text())
    assert document["metadata"] == {"name": "box", "labels": {"app": "box"}}
    assert document["spec"]["containers"][0]["args"] == ["sh", "-c", "echo $GREETING; cat /data/note; exec sleep 3600"]
    assert pods("pod", "rm", "-f", "-t", "0", "box").returncode == 0
    replayed = pods("play", str(generated))
    assert replayed.returncode == 0, replayed.stderr
    assert unique(stored_plans(pods).values()) == unique(before.values())
    again = pods("generate", "box")
    assert again.stdout == generated.read_text()


def test_run_into_an_existing_pod_joins_its_network_and_stays_in_its_plan(pods):
    made = pods("run", "web", "--image", BUSYBOX, "--image-pull-policy", "Never", "--port", "18093:8080",
                "--", "sh", "-c", WEB)
    assert made.returncode == 0, made.stderr
    added = pods("run", "client", "--pod", "web", "--image", BUSYBOX, "--image-pull-policy", "Never", "--",
                 "sh", "-c", "for i in $(seq 1 50); do wget -q -O - http://127.0.0.1:8080/ && break; "
                             "sleep 0.2; done; exec sleep 3600")
    assert added.returncode == 0, added.stderr
    pods.wait_for(lambda: "page-from-web" in pods.logs("web", "client"), what="the page over the pod's localhost")
    names = [c["name"] for c in pods.inspect("web")["containers"]]
    assert "web" in names and "client" in names

    before = stored_plans(pods)
    assert [c.name for c in before["web"].containers] == ["web", "client"]
    text = pods("generate", "web", "--service")
    assert text.returncode == 0, text.stderr
    documents = list(yaml.safe_load_all(text.stdout))
    assert [c["name"] for c in documents[0]["spec"]["containers"]] == ["web", "client"]
    assert documents[1]["kind"] == "Service"
    assert documents[1]["spec"]["ports"] == [{"name": "tcp-18093", "port": 18093, "targetPort": 8080}]
    generated = pods.manifests / "web.yaml"
    generated.write_text(text.stdout)
    assert pods("pod", "rm", "-f", "-t", "0", "web").returncode == 0
    replayed = pods("play", str(generated))
    assert replayed.returncode == 0, replayed.stderr
    assert unique(stored_plans(pods).values()) == unique(before.values())
    pods.wait_for(lambda: "page-from-web" in pods.logs("web", "client"), what="the page after the replay")


def test_run_bad_input_gets_one_clear_message_each(pods):
    made = pods("run", "solo", "--image", BUSYBOX, "--image-pull-policy", "Never", "--", "sleep", "3600")
    assert made.returncode == 0, made.stderr
    pods("run", "x", "--pod", "nosuchpod", "--image", BUSYBOX).assert_fails_cleanly((1,), mentions=("nosuchpod",))
    pods("run", "solo", "--pod", "solo", "--image", BUSYBOX).assert_fails_cleanly((1,), mentions=("already has",))
    pods("run", "extra", "--pod", "solo", "--image", BUSYBOX, "--port", "18094:80").assert_fails_cleanly(
        (1,), mentions=("host ports",))
    pods("run", "solo", "--image", BUSYBOX).assert_fails_cleanly((1,), mentions=("solo", "exists"))
    pods("run", "Bad_Name", "--image", BUSYBOX).assert_fails_cleanly((1,), mentions=("Bad_Name",))
    pods("run", "p", "--image", BUSYBOX, "--port", "http").assert_fails_cleanly((1,), mentions=("--port",))
    pods("run", "p", "--image", BUSYBOX, "--env", "NOVALUE").assert_fails_cleanly((1,), mentions=("--env",))
    pods("run", "p", "--image", BUSYBOX, "--volume", "relative").assert_fails_cleanly((1,), mentions=("--volume",))
    listed = json.loads(pods("pods", "--format", "json").stdout)
    assert [pod["name"] for pod in listed] == ["solo"]
    assert [c.name for c in stored_plans(pods)["solo"].containers] == ["solo"]  # refused joins left no trace


def test_run_with_a_named_volume_makes_it_and_keeps_its_data(pods):
    made = pods("run", "writer", "--image", BUSYBOX, "--image-pull-policy", "Never", "--restart", "Never",
                "--volume", "notes:/data", "--", "sh", "-c", "echo kept > /data/note")
    assert made.returncode == 0, made.stderr
    volumes = json.loads(pods("volume", "ls", "--format", "json").stdout)
    assert [volume["name"] for volume in volumes] == ["notes"]
    pods.exited("writer", "writer")
    assert pods("pod", "rm", "-f", "-t", "0", "writer").returncode == 0
    read = pods("run", "reader", "--image", BUSYBOX, "--image-pull-policy", "Never", "--volume", "notes:/data",
                "--", "sh", "-c", "cat /data/note; exec sleep 3600")
    assert read.returncode == 0, read.stderr
    pods.wait_for(lambda: "kept" in pods.logs("reader"), what="the volume's data in a new pod")

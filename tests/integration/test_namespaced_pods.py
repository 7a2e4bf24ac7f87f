"""Pod names are unique per namespace, not per host: the same Pod and the same Deployment played in
two namespaces from two files both run, every verb reaches the one -n names, and `down` of one file
leaves the other's running."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


def sh(name: str, script: str) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script]}


def namespace_file(pods, namespace: str):
    """web (a Pod with a readiness probe) and api (a Deployment of 1) in `namespace`, each saying which
    namespace it is in."""
    main = {**sh("main", f"echo web-of-{namespace}; touch /tmp/ready; sleep 3600"),
            "env": [{"name": "MARK", "value": namespace}],
            # ready only through its probe: the monitor of a pod outside namespace default must run
            "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}}
    web = pods.pod("web", main)
    web["metadata"]["namespace"] = namespace
    labels = {"app": "api"}
    api = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": namespace},
           "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"terminationGracePeriodSeconds": 1,
                                          "containers": [sh("api", f"echo api-of-{namespace}; sleep 3600")]}}}}
    return str(pods.write(f"{namespace}.yaml", web, api))


def listed(pods) -> list[tuple[str, str, str]]:
    result = pods("pods", "-A", "--format", "json")
    assert result.returncode == 0, result.stderr
    return sorted((p["namespace"], p["name"], p["status"]) for p in json.loads(result.stdout))


def running_in(pods, namespace: str) -> list[str]:
    return sorted(name for ns, name, status in listed(pods) if ns == namespace and status == "Running")


def test_the_same_names_in_two_namespaces_are_two_pods_each_reached_by_n(pods):
    first, second = namespace_file(pods, "a"), namespace_file(pods, "b")
    for manifest in (first, second):
        played = pods("play", manifest)
        assert played.returncode == 0, played.stderr
        assert "pod/web created" in played.stdout
    pods.wait_for(lambda: len(running_in(pods, "a")) == 2 and len(running_in(pods, "b")) == 2,
                  what="web and api running in both namespaces")
    names = {namespace: running_in(pods, namespace) for namespace in ("a", "b")}
    assert [name for name in names["a"] if name != "web"][0].startswith("api-")
    table = pods("pods", "-A").stdout.splitlines()
    assert table[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [line.split()[:2] for line in table[1:] if line.split()[1] == "web"] in (
        [["a", "web"], ["b", "web"]], [["b", "web"], ["a", "web"]])

    for namespace in ("a", "b"):
        pods.wait_for(lambda: pods("logs", "-n", namespace, "web").stdout == f"web-of-{namespace}\n",
                      what=f"the log of web in {namespace}")
        assert pods("logs", "-n", namespace, "deploy/api").stdout == f"api-of-{namespace}\n"
        hostname = pods("exec", "-n", namespace, "web", "--", "hostname")
        assert (hostname.returncode, hostname.stdout) == (0, "web\n"), hostname.stderr
        assert pods("exec", "-n", namespace, "web", "--", "sh", "-c", "echo $MARK").stdout == f"{namespace}\n"
    inspected = {namespace: json.loads(pods("pod", "inspect", "-n", namespace, "web").stdout)[0]
                 for namespace in ("a", "b")}
    assert (inspected["a"]["namespace"], inspected["b"]["namespace"]) == ("a", "b")
    assert inspected["a"]["id"] != inspected["b"]["id"] and inspected["a"]["ip"] != inspected["b"]["ip"]
    hosts = pods("exec", "-n", "b", "web", "--", "cat", "/etc/hosts").stdout
    assert any(line.split()[1:] == ["web.a"] for line in hosts.splitlines() if line.strip()), hosts
    generated = yaml.safe_load(pods("generate", "-n", "b", "web").stdout)
    assert generated["metadata"]["name"] == "web" and generated["metadata"].get("namespace") == "b"
    assert pods("wait", "-n", "a", "web", "--timeout", "30s").returncode == 0

    missing = pods("logs", "web")  # namespace default holds no web
    missing.assert_fails_cleanly((1,), mentions=('"web"', "namespace default"))
    assert "pods -A" in missing.hint_lines()[0]
    spelled = pods("logs", "a_web")  # a key is no name: namespace a is reached by -n only
    spelled.assert_fails_cleanly((1,), mentions=('"a_web"', "namespace default"))

    made = pods("run", "-n", "b", "web", "--image", BUSYBOX, "--image-pull-policy", "Never", "--", "sleep", "3600")
    made.assert_fails_cleanly((1,), mentions=('"web"', "namespace b"))  # b's web is taken; default's is free
    made = pods("run", "web", "--image", BUSYBOX, "--image-pull-policy", "Never", "--", "sleep", "3600")
    assert made.returncode == 0, made.stderr
    assert pods("exec", "web", "--", "hostname").stdout == "web\n"
    assert pods("pod", "rm", "-f", "-t", "0", "web").returncode == 0  # default's: a's and b's stay
    assert sorted(ns for ns, name, _ in listed(pods) if name == "web") == ["a", "b"]

    stopped = pods("pod", "stop", "-n", "a", "-t", "0", "web")
    assert stopped.returncode == 0, stopped.stderr
    assert ("a", "web", "Stopped") in listed(pods) and ("b", "web", "Running") in listed(pods)

    down = pods("down", first)
    assert down.returncode == 0, down.stderr
    assert "pod/web deleted" in down.stdout
    assert [ns for ns, _, _ in listed(pods)] == ["b", "b"]
    assert running_in(pods, "b") == names["b"]
    assert pods("exec", "-n", "b", "web", "--", "true").returncode == 0
    assert pods("down", second).returncode == 0
    assert listed(pods) == []

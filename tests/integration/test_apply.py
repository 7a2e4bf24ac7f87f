"""apply, scale and rollout for real: only what changed is made again, Deployments scale without
touching the pods that stay, roll while a client keeps being answered through the Service, a broken
template stops the roll with the old pods serving, undo brings the previous template back, a
ConfigMap edit reaches a mounted file in place, and --prune removes what the files dropped.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import BUSYBOX
from tests.integration.test_services import PAGE_IS_HOSTNAME, Services, nft_table, service
from tests.support.cli import skip_inside_a_chroot

pytestmark = pytest.mark.root
SLEEP = "exec sleep 3600"


def deployment(name: str, replicas: int = 1, env: dict | None = None, command: str = SLEEP,
               strategy: dict | None = None, image: str = BUSYBOX, **container: object) -> dict:
    labels = {"app": name}
    spec = {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", "-c", command],
                            "env": [{"name": key, "value": value} for key, value in (env or {}).items()],
                            **container}]}
    body = {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec}}
    if strategy:
        body["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


class Apply(Services):
    def apply(self, file: str, *documents: dict, extra: tuple[str, ...] = ()):
        path = self.pods.write(file, *documents)
        if path not in self.files:
            self.files.append(path)
        return self.pods("apply", "--network", self.net.name, "-f", str(path), *extra)

    def pods_of(self, name: str) -> dict[str, int]:
        """Pod name -> the pid of its main container, for the Deployment's pods."""
        rows = json.loads(self.pods("pods", "--format", "json").stdout)
        found = {}
        for row in rows:
            if row["name"].startswith(f"{name}-"):
                found[row["name"]] = self.pods.container(row["name"], "main")["pid"]
        return found


@pytest.fixture
def ap(pods):
    env = Apply(pods)
    try:
        yield env
    finally:
        env.cleanup()


def test_one_env_change_replaces_only_that_deployments_pods(ap):
    first = ap.apply("app.yaml", deployment("one", 2, {"V": "1"}), deployment("two", 2, {"V": "1"}))
    assert first.returncode == 0, first.stderr
    assert "deployment.apps/one created" in first.stdout and "deployment.apps/two created" in first.stdout
    one, two = ap.pods_of("one"), ap.pods_of("two")
    assert len(one) == 2 and len(two) == 2
    again = ap.apply("app.yaml", deployment("one", 2, {"V": "1"}), deployment("two", 2, {"V": "1"}))
    assert "deployment.apps/one unchanged" in again.stdout and "deployment.apps/two unchanged" in again.stdout
    assert ap.pods_of("one") == one and ap.pods_of("two") == two
    piped = ap.pods("apply", "--network", ap.net.name, "-f", "-", input=(ap.pods.manifests / "app.yaml").read_text())
    assert piped.returncode == 0 and "deployment.apps/one unchanged" in piped.stdout, piped.stderr
    changed = ap.apply("app.yaml", deployment("one", 2, {"V": "2"}), deployment("two", 2, {"V": "1"}))
    assert changed.returncode == 0, changed.stderr
    assert "deployment.apps/one configured (pods replaced" in changed.stdout
    assert "deployment.apps/two unchanged" in changed.stdout
    assert ap.pods_of("two") == two  # same pods, same pids
    now = ap.pods_of("one")
    assert len(now) == 2 and not set(now) & set(one)
    old_hash = {name.rsplit("-", 2)[1] for name in one}
    new_hash = {name.rsplit("-", 2)[1] for name in now}
    assert len(new_hash) == 1 and new_hash != old_hash  # <deployment>-<template-hash>-<suffix>
    played = ap.pods("play", str(ap.pods.manifests / "app.yaml"))
    assert played.returncode != 0 and "already exists" in played.stderr and "apply" in played.stderr


def test_scale_keeps_the_pods_that_stay_and_replicas_zero_is_kept(ap):
    assert ap.apply("app.yaml", deployment("web", 3)).returncode == 0
    three = ap.pods_of("web")
    scaled = ap.pods("scale", "deploy/web", "--replicas", "5")
    assert scaled.returncode == 0, scaled.stderr
    five = ap.pods_of("web")
    assert len(five) == 5 and all(five[name] == pid for name, pid in three.items())
    down = ap.apply("app.yaml", deployment("web", 2))
    assert down.returncode == 0 and "scaled 5 -> 2" in down.stdout, down.stdout
    two = ap.pods_of("web")
    assert len(two) == 2 and all(five[name] == pid for name, pid in two.items())
    assert ap.apply("app.yaml", deployment("web", 0)).returncode == 0
    assert ap.pods_of("web") == {}
    listed = json.loads(ap.pods("deployments", "-o", "json").stdout)
    assert [(row["name"], row["replicas"]) for row in listed] == [("web", 0)]
    assert ap.pods("scale", "deployment/web", "--replicas", "1").returncode == 0
    assert len(ap.pods_of("web")) == 1
    recreate = ap.apply("app.yaml", deployment("web", 2, {"V": "2"}, strategy={"type": "Recreate"}))
    assert recreate.returncode == 0, recreate.stderr
    assert ("deployment.apps/web configured (pods replaced: template changed; scaled 1 -> 2; "
            "rollout settings changed)") in recreate.stdout
    assert len(ap.pods_of("web")) == 2


def test_rolling_update_through_a_service_never_refuses_a_client(ap):
    roll = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    svc = service("web", {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]})
    ready = {"readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}
    web = deployment("web", 4, {"V": "1"}, PAGE_IS_HOSTNAME, roll, **ready)
    # the client polls the Service by name from `touch /tmp/go` to `touch /tmp/stop`, logging each answer
    poll = ("while [ ! -e /tmp/go ]; do sleep 0.1; done; while [ ! -e /tmp/stop ]; do "
            "if wget -q -O - http://web/ > /dev/null; then echo ok >> /tmp/log; else echo FAIL >> /tmp/log; fi; "
            "done; exec sleep 3600")
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
              "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                  "name": "main", "image": BUSYBOX, "command": ["/bin/sh", "-c", poll]}]}}
    first = ap.apply("app.yaml", svc, web, client, extra=("--wait",))
    assert first.returncode == 0, first.stderr
    assert ap.routed("default", "web")["clusterIP"] in nft_table()
    before = ap.pods_of("web")
    ap.exec("client", "touch /tmp/go")
    rolled = ap.apply("app.yaml", svc, deployment("web", 4, {"V": "2"}, PAGE_IS_HOSTNAME, roll, **ready), client)
    assert rolled.returncode == 0, rolled.stderr
    ap.exec("client", "touch /tmp/stop; sleep 1")
    log = ap.exec("client", "cat /tmp/log")
    after = ap.pods_of("web")
    assert len(after) == 4 and not set(after) & set(before)
    assert "ok" in log and "FAIL" not in log, log


def test_a_new_pod_never_ready_stops_the_roll_and_undo_brings_back_the_old_template(ap):
    roll = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    good = deployment("web", 2, {"V": "1"}, strategy=roll)
    good["spec"]["progressDeadlineSeconds"] = 4
    assert ap.apply("app.yaml", good).returncode == 0
    old = ap.pods_of("web")
    broken = deployment("web", 2, {"V": "2"}, "exit 3", roll)
    broken["spec"]["progressDeadlineSeconds"] = 4
    # never Ready, not even in the instant it runs before it exits (a container with no readiness
    # probe counts as ready while it runs, as on Kubernetes)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["false"]}}
    stopped = ap.apply("app.yaml", broken)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "progress deadline" in stopped.stderr and "container main" in stopped.stderr
    now = ap.pods_of("web")
    assert all(now.get(name) == pid for name, pid in old.items())  # the old pods keep serving
    status = ap.pods("rollout", "status", "deploy/web")
    assert status.returncode == 1 and "failed" in status.stdout
    undone = ap.pods("rollout", "undo", "deploy/web")
    assert undone.returncode == 0, undone.stderr
    back = ap.pods_of("web")
    assert len(back) == 2 and {name.rsplit("-", 2)[1] for name in back} == {name.rsplit("-", 2)[1] for name in old}
    assert ap.pods("rollout", "status", "deploy/web").returncode == 0
    history = ap.pods("rollout", "history", "deploy/web").stdout
    assert "rollout undo" in history


def test_a_broken_image_stops_the_roll_before_any_pod_goes(ap):
    assert ap.apply("app.yaml", deployment("web", 2)).returncode == 0
    old = ap.pods_of("web")
    broken = ap.apply("app.yaml", deployment("web", 2, image="localhost/test/no-such-image:1"))
    assert broken.returncode != 0
    assert ap.pods_of("web") == old


def test_a_configmap_edit_updates_a_mounted_file_in_place(ap):
    def files(value: str) -> list[dict]:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"greeting": value}}
        web = deployment("web", 1, volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}])
        web["spec"]["template"]["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "cfg"}}]
        reader = deployment("env")  # reads it through its environment: its pods are replaced
        reader["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}}]
        return [cm, web, reader]

    assert ap.apply("app.yaml", *files("hello")).returncode == 0
    before = ap.pods_of("web")
    (name,) = before
    assert ap.exec(name, "cat /etc/cfg/greeting") == "hello"
    changed = ap.apply("app.yaml", *files("bonjour"))
    assert changed.returncode == 0, changed.stderr
    assert "configmap/cfg configured" in changed.stdout
    assert "deployment.apps/web configured (volume files updated in place)" in changed.stdout
    assert "deployment.apps/env configured (pods replaced: configmap/cfg changed)" in changed.stdout
    assert ap.pods_of("web") == before
    assert ap.exec(name, "cat /etc/cfg/greeting") == "bonjour"
    (reader,) = ap.pods_of("env")
    assert ap.exec(reader, "echo $GREETING").strip() == "bonjour"
    assert ap.pods("down", str(ap.pods.manifests / "app.yaml")).returncode == 0
    again = ap.apply("app.yaml", *files("bonjour"))  # down forgot them: made anew
    assert "configmap/cfg created" in again.stdout and "deployment.apps/web created" in again.stdout


def test_a_directory_applied_again_prunes_a_removed_file_only_with_the_flag(ap):
    import yaml

    site = ap.pods.manifests / "site"
    site.mkdir()
    (site / "one.yaml").write_text(yaml.safe_dump(deployment("one")))
    (site / "two.yaml").write_text(yaml.safe_dump_all([deployment("two"), {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}}]))
    first = ap.pods("apply", "--network", ap.net.name, "-f", str(site))
    assert first.returncode == 0 and "configmap/cfg created" in first.stdout, first.stdout + first.stderr
    (site / "two.yaml").unlink()
    kept = ap.pods("apply", "--network", ap.net.name, "-f", str(site))
    assert "deployment.apps/two would be pruned" in kept.stdout and "configmap/cfg would be pruned" in kept.stdout
    assert "deployment.apps/one unchanged" in kept.stdout
    assert ap.pods_of("two")
    pruned = ap.pods("apply", "--network", ap.net.name, "-f", str(site), "--prune")
    assert pruned.returncode == 0 and "deployment.apps/two pruned" in pruned.stdout
    assert ap.pods_of("two") == {} and ap.pods_of("one")
    again = ap.pods("apply", "--network", ap.net.name, "-f", str(site))
    assert "pruned" not in again.stdout
    ap.pods("down", str(site / "one.yaml"))


def test_immutable_selector_change_fails_before_anything_changes(ap):
    assert ap.apply("app.yaml", deployment("web", 1)).returncode == 0
    before = ap.pods_of("web")
    changed = deployment("web", 2)
    changed["spec"]["selector"]["matchLabels"]["tier"] = "x"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    refused = ap.apply("app.yaml", changed)
    assert refused.returncode == 1 and "spec.selector: field is immutable" in refused.stderr
    assert "app.yaml:" in refused.stderr
    assert ap.pods_of("web") == before


def test_a_roll_killed_half_way_is_carried_on_by_rollout_status(ap):
    skip_inside_a_chroot("its readiness exec probes cannot enter the container there")
    import os
    import signal
    import time

    roll = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    slow = {"readinessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 4, "periodSeconds": 1}}
    first = ap.apply("app.yaml", deployment("web", 2, {"V": "1"}, strategy=roll, **slow), extra=("--wait",))
    assert first.returncode == 0, first.stderr
    old = set(ap.pods_of("web"))
    path = ap.pods.write("app.yaml", deployment("web", 2, {"V": "2"}, strategy=roll, **slow))
    rolling = ap.pods.kp.popen("apply", "--network", ap.net.name, "-f", str(path))
    try:
        ap.pods.wait_for(lambda: [name for name in ap.pods_of("web") if name not in old], 30, "a new pod")
        time.sleep(2)
        os.kill(rolling.pid, signal.SIGKILL)
    finally:
        rolling.wait(timeout=30)
    assert set(ap.pods_of("web")) & old  # cut short: old pods are still there
    status = ap.pods("rollout", "status", "deploy/web")
    assert status.returncode == 0, status.stdout + status.stderr
    assert 'deployment "web" successfully rolled out' in status.stdout
    now = ap.pods_of("web")
    assert len(now) == 2 and not set(now) & old
    restarted = ap.pods("rollout", "restart", "deploy/web")
    assert restarted.returncode == 0, restarted.stderr
    after = ap.pods_of("web")
    assert len(after) == 2 and not set(after) & set(now)


def test_a_new_pod_whose_making_was_killed_is_made_again_by_rollout_status(ap):
    """SIGKILL leaves no chance to undo: a pod cut short while its init container ran stays Pending
    with no one making it. The next roll removes it and makes its place again, instead of waiting
    for it until the progress deadline."""
    import os
    import signal

    roll = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}

    def with_slow_init(version: str) -> dict:
        made = deployment("web", 1, {"V": version}, strategy=roll)
        made["spec"]["template"]["spec"]["initContainers"] = [
            {"name": "slow", "image": BUSYBOX, "command": ["/bin/sh", "-c", "sleep 3"]}]
        return made

    first = ap.apply("app.yaml", with_slow_init("1"), extra=("--wait",))
    assert first.returncode == 0, first.stderr
    def names() -> set[str]:  # a pod being made may have no container record yet: no pods_of
        return {row["name"] for row in json.loads(ap.pods("pods", "--format", "json").stdout)}

    old = names()
    path = ap.pods.write("app.yaml", with_slow_init("2"))
    rolling = ap.pods.kp.popen("apply", "--network", ap.net.name, "-f", str(path))
    try:
        cut = ap.pods.wait_for(lambda: sorted(names() - old), 30, "a new pod")[0]
        os.kill(rolling.pid, signal.SIGKILL)  # while its init container runs
    finally:
        rolling.wait(timeout=30)
    assert ap.pods.inspect(cut)["phase"] == "Pending"
    status = ap.pods("rollout", "status", "deploy/web", timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert 'deployment "web" successfully rolled out' in status.stdout
    now = names()
    assert len(now) == 1 and cut not in now and not now & old


def test_immutable_job_template_and_cluster_ip_fail_before_anything_changes(ap):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                                          "containers": [{"name": "main", "image": BUSYBOX,
                                                          "command": ["/bin/sh", "-c", "exit 0"]}]}}}}
    svc = service("web", {"selector": {"app": "web"}, "ports": [{"port": 80}]})
    assert ap.apply("app.yaml", job, svc, deployment("web")).returncode == 0
    before = ap.pods_of("web")
    changed = json.loads(json.dumps(job))
    changed["spec"]["template"]["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", "exit 1"]
    refused = ap.apply("app.yaml", changed, svc, deployment("web", 2))
    assert refused.returncode == 1 and "spec.template: field is immutable" in refused.stderr
    moved = service("web", {"selector": {"app": "web"}, "ports": [{"port": 80}], "clusterIP": "10.96.200.200"})
    refused = ap.apply("app.yaml", job, moved, deployment("web", 2))
    assert refused.returncode == 1 and "spec.clusterIP: field is immutable" in refused.stderr
    assert "app.yaml:" in refused.stderr
    assert ap.pods_of("web") == before  # the replicas: 2 beside them was not applied either

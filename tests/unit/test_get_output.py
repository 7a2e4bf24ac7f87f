"""`kubeplay get`, `describe` and the listings' namespaces, on a store filled by hand (no runtime):
kinds and names, -o wide|name|yaml|json|jsonpath, -l, -n/-A, READY, RFC 3339 times, and the
Pod objects checked by the `kubernetes` package's own models."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from click.testing import CliRunner

from kubeplay.cli.describe import describe
from kubeplay.cli.get import get
from kubeplay.cli.pods import pods
from kubeplay.config import Settings
from kubeplay.model.plan import ContainerPlan, EnvVar, OwnerPlan, PodPlan, ResourcePlan
from kubeplay.model.record import ContainerRole, ContainerStatus, PodPhase
from kubeplay.pods.status import session_id
from kubeplay.store.db import open_database
from kubeplay.store.events import EventStore
from kubeplay.store.pods import PodStore

SETTINGS_ENV = {"MODE": ("settings", "MODE")}
READ_INTERVAL = 0.05  # seconds between a watch's reads of the store, in these tests
WATCH_FOR = "1.5"  # seconds a watch runs: the change comes right after its first listing
LISTING_TIMEOUT = 30  # seconds; a bound against a hang, never reached
CHANGE_AFTER = 1.0  # seconds, with --watch-only: the first reading of the store is made by then
WATCH_ONLY_FOR = "2"  # seconds: as long after CHANGE_AFTER as WATCH_FOR after a first listing


@pytest.fixture
def settings(tmp_path) -> Settings:
    made = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    made.ensure_dirs()
    return made


class Filler:
    def __init__(self, settings: Settings) -> None:
        self.db = open_database(settings.root)
        self.store = PodStore(self.db)

    def pod(self, name: str, namespace: str = "default", labels: dict | None = None, owner: OwnerPlan | None = None,
            state: str = "created", code: int | None = None, restarts: int = 0, made: bool = True,
            reason: str = "") -> None:
        env = (EnvVar("MODE", "fast", source={"configMapKeyRef": {"name": "settings", "key": "MODE"}}),)
        member = ContainerPlan(name="web", image="localhost/web:1", env=env,
                               resources=ResourcePlan(cpu_limit_millis=500, memory_limit=64 << 20))
        plan = PodPlan(name=name, namespace=namespace, labels=labels or {}, containers=(member,), owner=owner)
        self.store.add_pod(f"id-{plan.key}", plan)
        if not made:
            return
        self.store.add_container(f"{plan.key}-infra", plan.key, f"{name}-infra", ContainerRole.INFRA, 0, None, None)
        self.store.add_container(f"{plan.key}-web", plan.key, "web", ContainerRole.MEMBER, 0, "sha256:" + "a" * 64, member)
        now = time.time()
        if state == "exited":
            self.store.set_container_state(f"{plan.key}-web", status=ContainerStatus.EXITED, exit_code=code,
                                           started_at=now - 5, finished_at=now, restart_count=restarts,
                                           reason=reason or ("Completed" if code == 0 else "Error"))
            self.store.set_pod_state(plan.key, phase=PodPhase.RUNNING)


@pytest.fixture
def filled(settings) -> Filler:
    filler = Filler(settings)
    filler.pod("front", labels={"app": "web", "tier": "front"})
    filler.pod("other", namespace="team-b", labels={"app": "web", "tier": "back"})
    filler.pod("making", labels={"app": "db"}, made=False)
    filler.pod("crashing", labels={"app": "db"}, state="exited", code=3, restarts=4, reason="CrashLoopBackOff")
    deploy = OwnerPlan("Deployment", "site", replicas=2, labels={"app": "site"})
    filler.pod("site-abc-1", labels={"app": "site", "pod-template-hash": "abc"}, owner=deploy)
    filler.pod("site-abc-2", labels={"app": "site", "pod-template-hash": "abc"}, owner=deploy)
    EventStore(filler.db).add("crashing", "web", "Warning", "BackOff", "Back-off restarting failed container web")
    from kubeplay.model.service import ServicePlan, ServicePort
    from kubeplay.store.services import ServiceStore

    plan = ServicePlan(name="site", type="NodePort", selector={"app": "site"}, labels={"app": "site"},
                       ports=(ServicePort(port=80, target_port=8080, name="http"),))
    ServiceStore(filler.db).add(plan, lambda plan, taken: ("10.96.0.10", (ServicePort(80, 8080, "TCP", "http", 30080),)))
    yield filler
    filler.db.close()


def run(command, settings: Settings, *args: str):
    result = CliRunner().invoke(command, list(args), obj=settings, catch_exceptions=False)
    return result


def lines(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.strip()]



class Watched(io.StringIO):
    """What a watch prints, telling another thread when it has printed its first listing."""

    def __init__(self) -> None:
        super().__init__()
        self.listed = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.listed.set()
        return written


class WatchResult(NamedTuple):
    exit_code: int
    output: str


def watch_while(change, settings, *args: str, monkeypatch, listing_first: bool = True) -> WatchResult:
    """`get ARGS` (a watch), with `change` made to the store once the first listing is printed (with
    --watch-only nothing is: CHANGE_AFTER seconds after the start). The store is read every
    READ_INTERVAL: the watch's WATCH_FOR seconds see the change many times over."""
    monkeypatch.setattr("kubeplay.cli.watch.WATCH_INTERVAL", READ_INTERVAL)
    output = Watched()

    def later() -> None:
        output.listed.wait(LISTING_TIMEOUT if listing_first else CHANGE_AFTER)
        change()

    changer = threading.Thread(target=later)
    changer.start()
    try:
        with contextlib.redirect_stdout(output):
            returned = get.main(list(args), obj=settings, standalone_mode=False)
    except SystemExit as exc:
        returned = exc.code
    finally:
        changer.join()
    return WatchResult(returned or 0, output.getvalue())


def test_get_pods_lists_the_default_namespace_as_kubectl(settings, filled):
    result = run(get, settings, "pods")
    rows = lines(result.output)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row[0] for row in rows[1:]] == ["crashing", "front", "making", "site-abc-1", "site-abc-2"]  # by name
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["making"][1] == "0/1"  # a member not made yet is counted: never 0/0
    assert by_name["crashing"][2:4] == ["CrashLoopBackOff", "4"]


def test_all_namespaces_adds_the_namespace_column_and_n_picks_one(settings, filled):
    every = lines(run(get, settings, "pods", "-A").output)
    assert every[0][:2] == ["NAMESPACE", "NAME"]
    assert ["team-b", "other"] in [row[:2] for row in every]
    only = lines(run(get, settings, "pods", "-n", "team-b", "-o", "name").output)
    assert only == [["pod/other"]]
    short = lines(run(pods, settings, "-A").output)
    assert short[0][0] == "NAMESPACE" and ["team-b", "other"] in [row[:2] for row in short]
    assert "other" not in run(pods, settings).output


def test_selectors_filter(settings, filled):
    names = run(get, settings, "pods", "-A", "-l", "app=web,tier notin (back)", "-o", "name").output.split()
    assert names == ["pod/front"]
    names = run(get, settings, "pods", "-l", "app in (db, site),!pod-template-hash", "-o", "name").output.split()
    assert names == ["pod/crashing", "pod/making"]


def test_a_bad_selector_exits_1_naming_the_column(settings, filled):
    from kubeplay.errors import UserError

    with pytest.raises(UserError, match="column 9"):
        run(get, settings, "pods", "-l", "app=web,")


def test_an_unknown_type_lists_the_known_ones(settings, filled):
    from kubeplay.errors import UserError

    with pytest.raises(UserError) as raised:
        run(get, settings, "pdos")
    assert "pdos" in raised.value.message
    for known in ("pods", "deployments", "svc", "configmaps", "secrets", "pvc", "jobs", "all"):
        assert known in raised.value.hint


def test_an_unknown_name_is_not_found(settings, filled):
    from kubeplay.errors import NotFoundError

    with pytest.raises(NotFoundError, match='"nope"'):
        run(get, settings, "pod", "nope")


def test_type_slash_name_and_wide(settings, filled):
    rows = lines(run(get, settings, "pod/front", "deploy/site", "-o", "wide").output)
    assert rows[0][:2] == ["NAME", "READY"] and "IP" in rows[0] and "NODE" in rows[0]
    assert rows[1][0] == "pod/front"
    assert ["deployment.apps/site", "0/2", "2", "0"] == rows[3][:4]


def test_deployments_and_configmaps_are_derived_from_the_pods(settings, filled):
    deploy = json.loads(run(get, settings, "deploy", "site", "-o", "json").output)
    assert deploy["kind"] == "Deployment" and deploy["spec"]["replicas"] == 2
    assert deploy["status"]["replicas"] == 2 and deploy["spec"]["selector"]["matchLabels"] == {"app": "site"}
    cm = json.loads(run(get, settings, "cm", "settings", "-o", "json").output)
    assert cm["kind"] == "ConfigMap" and cm["data"] == {"MODE": "fast"}


def k8s_pod(obj: dict) -> dict:
    """The object as the `kubernetes` package's V1Pod reads it and writes it back."""
    from kubernetes.client import models as k8s

    return k8s.V1Pod.from_dict(obj).model_dump(by_alias=True, exclude_none=True, mode="json")


def without_empty(value):
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


def test_get_pods_yaml_is_a_kubernetes_pod_with_its_status(settings, filled):
    listed = yaml.safe_load(run(get, settings, "pods", "-o", "yaml").output)
    assert listed["kind"] == "List" and len(listed["items"]) == 5
    for obj in listed["items"]:
        # the models read every field (none dropped as unknown, none of a wrong type)
        assert without_empty(k8s_pod(obj)) == without_empty(obj)
    crashing = yaml.safe_load(run(get, settings, "pod", "crashing", "-o", "yaml").output)
    assert crashing["kind"] == "Pod" and crashing["metadata"]["namespace"] == "default"
    status = crashing["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]} == \
        {"Initialized": "True", "ContainersReady": "False", "Ready": "False"}
    web = status["containerStatuses"][0]
    assert web["name"] == "web" and web["ready"] is False and web["restartCount"] == 4
    assert web["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert web["lastState"]["terminated"]["exitCode"] == 3
    assert status["qosClass"] == "Guaranteed"  # limits alone: requests default to them
    making = yaml.safe_load(run(get, settings, "pod/making", "-o", "yaml").output)
    assert making["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_times_in_json_are_rfc3339(settings, filled):
    import re

    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    obj = json.loads(run(get, settings, "pod", "crashing", "-o", "json").output)
    terminated = obj["status"]["containerStatuses"][0]["lastState"]["terminated"]
    for value in (obj["metadata"]["creationTimestamp"], obj["status"]["startTime"], terminated["startedAt"],
                  terminated["finishedAt"]):
        assert rfc3339.match(value), value
    summary = json.loads(run(pods, settings, "--format", "json").output)
    assert all(rfc3339.match(pod["created"]) for pod in summary)


def test_jsonpath_output(settings, filled):
    printed = run(get, settings, "pods", "-o",
                  'jsonpath={range .items[*]}{.metadata.name}:{.status.containerStatuses[0].restartCount}{"\\n"}{end}')
    assert printed.output.splitlines() == ["crashing:4", "front:0", "making:0", "site-abc-1:0", "site-abc-2:0"]


def test_custom_columns_and_sort_by(settings, filled):
    columns = ("custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,"
               "RESTARTS:.status.containerStatuses[*].restartCount,IP:.status.podIP")
    printed = run(get, settings, "pods", "-l", "app in (web,db)", "--sort-by",
                  "{.status.containerStatuses[0].restartCount}", "-o", columns)
    assert printed.exit_code == 0, printed.output
    rows = lines(printed.output)
    assert rows[0] == ["NAME", "APP", "RESTARTS", "IP"]
    assert rows[-1] == ["crashing", "db", "4", "<none>"]  # the most restarts last; a field not there is <none>
    assert {row[0] for row in rows[1:]} == {"front", "making", "crashing"}
    by_name = lines(run(get, settings, "pods", "--sort-by", ".metadata.name", "-o", "name").output)
    assert [row[0] for row in by_name] == sorted(row[0] for row in by_name)
    bad = CliRunner().invoke(get, ["pods", "-o", "custom-columns=NAME"], obj=settings)
    assert bad.exit_code == 1 and "'NAME' is not HEADER:PATH" in str(bad.exception)


def test_field_selectors(settings, filled):
    running = lines(run(get, settings, "pods", "-A", "--field-selector", "status.phase=Running", "-o", "name").output)
    assert [row[0] for row in running] == ["pod/crashing"]
    others = lines(run(get, settings, "pods", "--field-selector", "metadata.name!=front,status.phase!=Running",
                       "-o", "name").output)
    assert [row[0] for row in others] == ["pod/making", "pod/site-abc-1", "pod/site-abc-2"]
    bad = CliRunner().invoke(get, ["pods", "--field-selector", "status.phase~Running"], obj=settings)
    assert "is not FIELD=VALUE or FIELD!=VALUE" in str(bad.exception)


def test_describe_pod_ends_with_its_events(settings, filled):
    text = run(describe, settings, "pod", "crashing").output
    assert text.startswith("Name:")
    for expected in ("Namespace:", "Containers:", "State:          Waiting", "Restart Count:  4", "Conditions:",
                     "QoS Class:", "<set to the key 'MODE' of config map 'settings'>"):
        assert expected in text, expected
    events = text[text.index("Events:"):]
    assert "BackOff" in events and "Back-off restarting failed container web" in events
    assert text.rstrip().splitlines()[-1].split()[:2] == ["Warning", "BackOff"]


def test_describe_deployment_lists_its_pods(settings, filled):
    text = run(describe, settings, "deploy/site").output
    assert "Replicas:" in text and "2 desired" in text and "site-abc-1" in text and "Events:" in text


def test_watch_prints_changes_until_its_time_is_up(settings, filled, monkeypatch):
    """-w reads the store again; a pod that changes is printed again (without the header)."""
    def change() -> None:
        filled.store.set_container_state("front-web", status=ContainerStatus.EXITED, exit_code=1,
                                         finished_at=time.time(), reason="Error")
        filled.store.set_pod_state("front", phase=PodPhase.RUNNING)

    result = watch_while(change, settings, "pods", "front", "-w", "--watch-timeout", WATCH_FOR, monkeypatch=monkeypatch)
    rows = lines(result.output)
    assert rows[0][0] == "NAME" and rows[1][:3] == ["front", "0/1", "ContainerCreating"]
    assert rows[2][:3] == ["front", "0/1", "Error"] and len(rows) == 3
    assert result.exit_code == 0


def test_watch_prints_a_deleted_pod_as_terminating_and_a_new_pod(settings, filled, monkeypatch):
    """A pod removed while watching is printed once more with its last row, Terminating (kubectl's
    DELETED event); a pod that appears is printed as it comes; --output-watch-events names each."""
    def change() -> None:
        filled.store.remove_pod("front")
        filled.pod("late", labels={"app": "web"})

    result = watch_while(change, settings, "pods", "-l", "app=web", "-w", "--output-watch-events",
                         "--watch-timeout", WATCH_FOR, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    rows = lines(result.output)
    assert rows[0] == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1][:4] == ["ADDED", "front", "0/1", "ContainerCreating"]
    assert sorted(row[:4] for row in rows[2:]) == [["ADDED", "late", "0/1", "ContainerCreating"],
                                                   ["DELETED", "front", "0/1", "Terminating"]]


def test_watch_only_prints_changes_with_a_header_first_and_no_headers_leaves_it_out(settings, filled, monkeypatch):
    def change() -> None:
        filled.pod("late", labels={"app": "web"})

    result = watch_while(change, settings, "pods", "-l", "app=web", "--watch-only", "--watch-timeout", WATCH_ONLY_FOR,
                         monkeypatch=monkeypatch, listing_first=False)
    assert result.exit_code == 0, result.output
    assert [row[:2] for row in lines(result.output)] == [["NAME", "READY"], ["late", "0/1"]]
    bare = lines(run(get, settings, "pods", "-l", "app=web", "--no-headers").output)
    assert [row[0] for row in bare] == ["front", "late"]
    several = run(get, settings, "pods,svc", "--no-headers").output
    assert "NAME" not in several and "\n\n" not in several and "service/site" in several


def test_watch_of_a_named_pod_ends_its_story_with_the_deletion(settings, filled, monkeypatch):
    """Watching one pod by name: its removal is a last line, not an error; -o name prints it again."""
    def remove() -> None:
        filled.store.remove_pod("front")

    result = watch_while(remove, settings, "pods", "front", "-w", "--watch-timeout", WATCH_FOR, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    rows = lines(result.output)
    assert [row[:3] for row in rows] == [["NAME", "READY", "STATUS"], ["front", "0/1", "ContainerCreating"],
                                         ["front", "0/1", "Terminating"]]


def test_watch_json_of_a_deleted_pod_is_its_last_object_with_a_deletion_time(settings, filled, monkeypatch):
    def remove() -> None:
        filled.store.remove_pod("front")

    result = watch_while(remove, settings, "pod/front", "-w", "--output-watch-events", "-o", "json",
                         "--watch-timeout", WATCH_FOR, monkeypatch=monkeypatch)
    decoder, text, events = json.JSONDecoder(), result.output.strip(), []
    while text:
        event, end = decoder.raw_decode(text)
        events.append(event)
        text = text[end:].strip()
    assert [event["type"] for event in events] == ["ADDED", "DELETED"]
    deleted = events[1]["object"]
    assert deleted["kind"] == "Pod" and deleted["metadata"]["name"] == "front"
    assert deleted["metadata"]["deletionTimestamp"].endswith("Z") and "deletionTimestamp" not in events[0]["object"]["metadata"]


def test_a_pod_name_is_unique_per_namespace_not_per_host(settings, filled):
    from kubeplay.errors import ConflictError

    filled.pod("other", namespace="default")  # "other" of team-b is there too
    assert filled.store.named_pod("default", "other").namespace == "default"
    assert filled.store.named_pod("team-b", "other").namespace == "team-b"
    with pytest.raises(ConflictError, match='pod "other" already exists in namespace team-b'):
        filled.store.add_pod("id-3", PodPlan(name="other", namespace="team-b"))
    rows = lines(run(get, settings, "pods", "-A").output)
    assert sorted(row[:2] for row in rows[1:] if row[1] == "other") == [["default", "other"], ["team-b", "other"]]


def test_services_get_and_describe(settings, filled):
    rows = lines(run(get, settings, "svc", "-o", "wide").output)
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert rows[1][:5] == ["site", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP"]
    obj = json.loads(run(get, settings, "service/site", "-o", "json").output)
    assert obj["kind"] == "Service" and obj["spec"]["clusterIP"] == "10.96.0.10"
    assert obj["spec"]["ports"][0]["nodePort"] == 30080 and obj["metadata"]["creationTimestamp"].endswith("Z")
    text = run(describe, settings, "svc", "site").output
    for expected in ("Name:", "Type:", "NodePort", "IP:", "10.96.0.10", "TargetPort:", "8080/TCP", "NodePort:",
                     "Endpoints:", "Session Affinity:", "Events:"):
        assert expected in text, expected


def test_get_all_lists_each_kind_under_its_own_header(settings, filled):
    output = run(get, settings, "all").output
    blocks = [block.splitlines() for block in output.strip().split("\n\n")]
    assert [block[0].split() for block in blocks][3] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert [block[0].split()[0] for block in blocks] == ["NAME"] * 4
    assert [block[1].split()[0].split("/")[0] for block in blocks] == ["pod", "service", "deployment.apps",
                                                                       "replicaset.apps"]  # kubectl's order
    assert blocks[3][1].split()[:4] == ["replicaset.apps/site-abc", "2", "2", "0"]


def test_replicasets_are_the_kept_revisions_of_each_deployment(settings, filled):
    """A stored Deployment with two revisions: the current one wants the replicas, the old one 0; each
    counts the pods of its pod-template-hash."""
    import dataclasses

    from kubeplay.store.deployments import DeploymentStore
    from kubeplay.model.workload import DeploymentPlan

    owner = OwnerPlan("Deployment", "shop", replicas=1, labels={"app": "shop"}, template_hash="new1")
    template = PodPlan(name="shop", labels={"app": "shop", "pod-template-hash": "old1"},
                       containers=(ContainerPlan(name="shop", image="localhost/shop:1"),), owner=owner)
    deployments = DeploymentStore(filled.db)
    deployments.save(DeploymentPlan("shop", "default", 1, template, "old1"))
    newer = dataclasses.replace(template, labels={"app": "shop", "pod-template-hash": "new1"},
                                containers=(ContainerPlan(name="shop", image="localhost/shop:2"),))
    deployments.save(DeploymentPlan("shop", "default", 1, newer, "new1"))
    filled.pod("shop-new1-x", labels={"app": "shop", "pod-template-hash": "new1"}, owner=owner)

    rows = lines(run(get, settings, "rs", "-o", "wide").output)
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["shop-old1"][1:4] == ["0", "0", "0"] and by_name["shop-old1"][6] == "localhost/shop:1"
    assert by_name["shop-new1"][1:4] == ["1", "1", "0"] and by_name["shop-new1"][7] == "app=shop,pod-template-hash=new1"
    assert by_name["site-abc"][1:3] == ["2", "2"]
    named = run(get, settings, "replicasets", "shop-new1", "-o", "name").output.split()
    assert named == ["replicaset.apps/shop-new1"]
    obj = json.loads(run(get, settings, "rs/shop-new1", "-o", "json").output)
    assert obj["kind"] == "ReplicaSet" and obj["apiVersion"] == "apps/v1" and obj["spec"]["replicas"] == 1
    assert obj["status"]["replicas"] == 1 and obj["metadata"]["ownerReferences"][0]["name"] == "shop"
    assert obj["spec"]["selector"]["matchLabels"]["pod-template-hash"] == "new1"
    assert run(get, settings, "rs", "-l", "pod-template-hash=old1", "-o", "name").output.split() == [
        "replicaset.apps/shop-old1"]


def test_get_events_lists_the_pods_events_as_kubectl(settings, filled):
    rows = lines(run(get, settings, "events").output)
    assert rows[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1][1:4] == ["Warning", "BackOff", "pod/crashing"]
    listed = json.loads(run(get, settings, "ev", "-o", "json").output)["items"]
    assert [(obj["kind"], obj["involvedObject"]["name"], obj["count"]) for obj in listed] == [("Event", "crashing", 1)]
    assert listed[0]["involvedObject"]["fieldPath"] == "spec.containers{web}"
    assert listed[0]["lastTimestamp"].endswith("Z") and listed[0]["metadata"]["name"].startswith("crashing.")
    assert "BackOff" not in run(get, settings, "events", "-n", "team-b").output  # the pods of that namespace only


def test_daemonsets_are_listed_from_their_pods(settings, filled):
    filled.pod("agent-x1", labels={"app": "agent"}, owner=OwnerPlan("DaemonSet", "agent", labels={"app": "agent"}))
    rows = lines(run(get, settings, "ds").output)
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert rows[1][:7] == ["agent", "1", "1", "0", "1", "0", "<none>"]
    obj = json.loads(run(get, settings, "daemonset/agent", "-o", "json").output)
    assert obj["kind"] == "DaemonSet" and obj["status"]["currentNumberScheduled"] == 1
    assert "daemonset.apps/agent" in run(get, settings, "all").output


def test_describe_replicaset_counts_its_pods_and_names_its_deployment(settings, filled):
    text = run(describe, settings, "rs", "site-abc").output
    for expected in ("Name:", "site-abc", "Selector:", "pod-template-hash=abc", "Controlled By:  Deployment/site",
                     "Replicas:", "2 current / 2 desired", "Pods Status:", "Pod Template:", "site-abc-1", "Events:"):
        assert expected in text, expected


def test_a_replicaset_played_from_its_own_manifest_is_listed_from_its_pods(settings, filled):
    filled.pod("cache-x1", labels={"app": "cache"}, owner=OwnerPlan("ReplicaSet", "cache", replicas=3))
    rows = lines(run(get, settings, "rs").output)
    assert ["cache", "3", "1", "0"] in [row[:4] for row in rows]
    obj = json.loads(run(get, settings, "rs/cache", "-o", "json").output)
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "cache"}} and "ownerReferences" not in obj["metadata"]


EXAMPLES = sorted((Path(__file__).resolve().parent.parent.parent / "manifests" / "examples").glob("*.yaml")) + [
    Path(__file__).resolve().parent.parent / "data" / "manifests" / "pod-full.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_pod_reads_back_as_a_kubernetes_pod(settings, path):
    """Init containers, volumes, probes, resources, owners: the Pod model reads every field get gives."""
    from kubeplay.translate.context import TranslateOptions
    from kubeplay.translate.loader import load
    from kubeplay.translate.run import translate

    filler = Filler(settings)
    try:
        for plan in translate(load([str(path)]), TranslateOptions()).pods:
            filler.store.add_pod(f"id-{plan.name}", plan)
            for position, container in enumerate(plan.init_containers):
                filler.store.add_container(f"{plan.name}-i{position}", plan.name, container.name, ContainerRole.INIT,
                                           position, "sha256:i", container)
                filler.store.set_container_state(f"{plan.name}-i{position}", status=ContainerStatus.EXITED,
                                                 exit_code=0, started_at=1.0, finished_at=2.0)
            for position, container in enumerate(plan.containers):
                filler.store.add_container(f"{plan.name}-m{position}", plan.name, container.name, ContainerRole.MEMBER,
                                           position, "sha256:m", container)
    finally:
        filler.db.close()
    listed = json.loads(run(get, settings, "pods", "-A", "-o", "json").output)
    assert listed["items"]
    for obj in listed["items"]:
        assert without_empty(k8s_pod(obj)) == without_empty(obj)
        assert len(obj["status"]["containerStatuses"]) == len(obj["spec"]["containers"])
        assert len(obj["status"].get("initContainerStatuses", [])) == len(obj["spec"].get("initContainers", []))


def test_other_kinds_read_back_through_their_models(settings, filled):
    from kubernetes.client import models as k8s

    from kubeplay.model.kubeschema import kinds

    listed = json.loads(run(get, settings, "deploy,svc,cm,secrets,pvc,jobs", "-A", "-o", "json").output)
    assert {obj["kind"] for obj in listed["items"]} == {"Deployment", "Service", "ConfigMap"}
    for obj in listed["items"]:
        model = getattr(k8s, kinds()[obj["kind"]].type)
        dumped = model.from_dict(obj).model_dump(by_alias=True, exclude_none=True, mode="json")
        assert without_empty(dumped) == without_empty(obj)


def test_a_container_that_ran_again_keeps_its_last_state(settings, filled):
    store = filled.store
    store.set_container_state("front-web", status=ContainerStatus.EXITED, exit_code=137, started_at=100.0,
                              finished_at=160.0, reason="CrashLoopBackOff")
    # "running" as this process, in this session
    store.record_started("front-web", os.getpid(), 200.0, session_id(settings))
    store.set_container_state("front-web", restart_count=1)
    obj = json.loads(run(get, settings, "pod", "front", "-o", "json").output)
    [web] = obj["status"]["containerStatuses"]
    assert web["state"] == {"running": {"startedAt": "1970-01-01T00:03:20Z"}}
    assert web["lastState"]["terminated"] == {"exitCode": 137, "reason": "Error", "startedAt": "1970-01-01T00:01:40Z",
                                              "finishedAt": "1970-01-01T00:02:40Z", "containerID": "kubeplay://front-web"}
    assert "Last State:     Terminated" in run(describe, settings, "pod", "front").output

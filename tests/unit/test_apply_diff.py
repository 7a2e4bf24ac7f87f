"""What apply counts as a change (kubeplay.translate.diff) and the rolling-update arithmetic
(kubeplay.model.workload), checked on translated manifests: no root, no store."""

from __future__ import annotations

import dataclasses

import pytest

from kubeplay.errors import ManifestError, UserError
from kubeplay.model.workload import check_rolling_values, scaled_value, surge_and_unavailable
from kubeplay.translate.diff import (
    FILES,
    TEMPLATE,
    UNCHANGED,
    check_deployment,
    check_job,
    deployment_change,
    service_change,
    template_change,
)
from tests.unit.test_translate_helpers import run


def app(env: str = "one", replicas: int = 2, data: str = "hello", mount: str = "", selector: str = "{app: w}",
        strategy: str = "") -> str:
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\ndata: {{greeting: {data}}}\n---\n"
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w}}\nspec:\n  replicas: {replicas}\n"
            f"  selector: {{matchLabels: {selector}}}\n{strategy}"
            f"  template:\n    metadata: {{labels: {selector}}}\n    spec:\n"
            f"      volumes: [{{name: cfg, configMap: {{name: cfg}}}}]\n"
            f"      containers:\n      - name: c\n        image: busybox\n"
            f"        env: [{{name: V, value: {env}}}]\n"
            f"        volumeMounts: [{{name: cfg, mountPath: /etc/cfg{mount}}}]\n")


def deployment_of(text: str):
    (plan,) = run(text).deployments
    return plan


def test_replicas_of_one_template_are_the_same_template():
    pods = run(app(replicas=3)).pods
    assert pods[0].name != pods[1].name
    assert template_change(pods[0], pods[1]) == UNCHANGED


def test_a_second_translation_of_the_same_file_changes_nothing():
    assert not deployment_change(deployment_of(app()), deployment_of(app())).any


def test_replicas_alone_scale_and_keep_the_template():
    change = deployment_change(deployment_of(app(replicas=2)), deployment_of(app(replicas=5)))
    assert change.replicas and change.template == UNCHANGED


def test_an_env_change_is_a_new_template_with_a_new_hash():
    old, new = deployment_of(app(env="one")), deployment_of(app(env="two"))
    assert deployment_change(old, new).template == TEMPLATE
    assert old.template_hash != new.template_hash


def test_a_configmap_mounted_whole_is_updated_in_place():
    old, new = deployment_of(app(data="hello")), deployment_of(app(data="bonjour"))
    assert old.template_hash == new.template_hash  # the kubelet updates such files: same ReplicaSet
    assert deployment_change(old, new).template == FILES


def test_a_configmap_behind_a_sub_path_replaces_the_pods():
    mount = ", subPath: greeting"
    old, new = deployment_of(app(data="hello", mount=mount)), deployment_of(app(data="bonjour", mount=mount))
    assert old.template_hash != new.template_hash
    assert deployment_change(old, new).template == TEMPLATE


def test_a_configmap_read_through_env_changes_the_hash():
    def text(value: str) -> str:
        return (f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\ndata: {{k: {value}}}\n---\n"
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n"
                "  selector: {matchLabels: {app: w}}\n  template:\n    metadata: {labels: {app: w}}\n"
                "    spec:\n      containers:\n      - name: c\n        image: busybox\n"
                "        env: [{name: K, valueFrom: {configMapKeyRef: {name: cfg, key: k}}}]\n")
    old, new = deployment_of(text("a")), deployment_of(text("b"))
    assert old.template_hash != new.template_hash
    assert deployment_change(old, new).template == TEMPLATE


def test_a_selector_change_is_refused_naming_the_line():
    old = deployment_of(app())
    new = deployment_of(app(selector="{app: w, tier: x}"))
    with pytest.raises(UserError, match=r"app.yaml:\d+: spec.selector: field is immutable"):
        check_deployment(old, new)


def test_a_strategy_change_is_a_settings_change():
    strategy = "  strategy: {type: Recreate}\n"
    change = deployment_change(deployment_of(app()), deployment_of(app(strategy=strategy)))
    assert change.settings and change.template == UNCHANGED


def test_a_job_template_is_immutable():
    def job(command: str) -> str:
        return ("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n"
                "      restartPolicy: Never\n"
                f"      containers: [{{name: c, image: busybox, command: [{command}]}}]\n")
    check_job(run(job("echo")).pods[0], run(job("echo")).pods[0])  # a new controller-uid is no change
    with pytest.raises(UserError, match="spec.template: field is immutable"):
        check_job(run(job("echo")).pods[0], run(job("env")).pods[0])


def test_a_service_keeps_its_cluster_ip_and_a_port_change_is_configured():
    from kubeplay.model.service import ServiceRecord

    def service(port: int, cluster_ip: str = "") -> str:
        ip = f"  clusterIP: {cluster_ip}\n" if cluster_ip else ""
        return (f"apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n{ip}"
                f"  selector: {{app: w}}\n  ports: [{{port: {port}}}]\n")
    (plan,) = run(service(80)).services
    record = ServiceRecord(plan=plan, cluster_ip="10.96.0.7", ports=plan.ports, created_at=0)
    assert service_change(record, run(service(80)).services[0]) == UNCHANGED
    assert service_change(record, run(service(81)).services[0]) == "configured"
    assert service_change(record, run(service(80, "10.96.0.7")).services[0]) == "configured"
    with pytest.raises(UserError, match="spec.clusterIP: field is immutable"):
        service_change(record, run(service(80, "10.96.0.9")).services[0])


def test_replicas_zero_keeps_the_deployment_and_its_template():
    result = run(app(replicas=0))
    assert result.pods == [] and result.deployments[0].replicas == 0
    assert result.deployments[0].template.containers[0].name == "c"


@pytest.mark.parametrize(("value", "replicas", "up", "expected"), [
    (1, 4, True, 1), ("25%", 4, True, 1), ("25%", 5, True, 2), ("25%", 5, False, 1),
    ("10%", 4, True, 1), ("10%", 4, False, 0), ("100%", 3, False, 3), ("0%", 10, True, 0), ("50%", 1, False, 0),
])
def test_percentages_round_as_kubernetes_rounds_them(value, replicas, up, expected):
    assert scaled_value(value, replicas, round_up=up) == expected


def test_surge_rounds_up_and_unavailable_down_and_both_zero_allows_one():
    plan = deployment_of(app(replicas=4))
    assert surge_and_unavailable(plan) == (1, 1)  # the 25%/25% defaults
    few = dataclasses.replace(plan, replicas=3, max_surge="0%", max_unavailable="10%")
    assert surge_and_unavailable(few) == (0, 1)  # 0 and 0.3 -> 0: one may be unavailable, as ResolveFenceposts


@pytest.mark.parametrize(("surge", "unavailable", "problem"), [
    (0, 0, "may not be 0 when maxSurge is 0"), ("0%", 0, "may not be 0"), (-1, 1, "must be 0 or more"),
    ("x", 1, "percentage"), (1, "150%", "not be more than 100%"), (True, 1, "whole number"),
])
def test_rolling_values_kubernetes_refuses(surge, unavailable, problem):
    assert problem in check_rolling_values(surge, unavailable)


def test_rolling_values_refused_in_the_manifest_with_the_line():
    strategy = "  strategy:\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 0}\n"
    with pytest.raises(ManifestError, match=r"app.yaml:\d+: spec.strategy.rollingUpdate.maxUnavailable"):
        run(app(strategy=strategy))


def test_revisions_are_kept_up_to_the_limit_and_an_old_template_moves_up(tmp_path):
    from kubeplay.store.db import open_database
    from kubeplay.store.deployments import DeploymentStore

    store = DeploymentStore(open_database(tmp_path))
    plans = [dataclasses.replace(deployment_of(app(env=env)), revision_history_limit=2) for env in "abcd"]
    assert store.save(plans[0]).revision == 1
    assert store.save(dataclasses.replace(plans[0], replicas=5)).revision == 1  # scaling is no revision
    for number, plan in enumerate(plans[1:], start=2):
        assert store.save(plan).revision == number
    assert [r.number for r in store.revisions("default", "w")] == [2, 3, 4]  # the current and 2 old ones
    undone = store.save(plans[2], cause="rollout undo")
    assert undone.revision == 5
    kept = store.revisions("default", "w")
    assert [(r.number, r.cause) for r in kept] == [(2, "apply"), (4, "apply"), (5, "rollout undo")]
    assert kept[-1].template == plans[2].template
    assert [record.plan.replicas for record in store.list()] == [2]

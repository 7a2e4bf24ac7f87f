"""Workloads: Deployment replicas and naming, ReplicaSet, DaemonSet, Job options and restartPolicy."""

from __future__ import annotations

import re

import pytest

from kubeplay.errors import ManifestError
from kubeplay.translate.workloads import SAFE_ALPHABET, template_hash
from tests.unit.test_translate_helpers import run

SAFE = f"[{SAFE_ALPHABET}]"


def workload(kind: str, spec: str, pod_spec: str = "", api: str = "apps/v1", labels: str = "{app: w}") -> str:
    return (f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: w}}\nspec:\n{spec}"
            f"  template:\n    metadata: {{labels: {labels}}}\n    spec:\n{pod_spec}"
            "      containers: [{name: c, image: busybox}]\n")


SELECTOR = "  selector: {matchLabels: {app: w}}\n"


def test_deployment_makes_replicas_named_like_kubernetes():
    result = run(workload("Deployment", "  replicas: 3\n" + SELECTOR))
    names = [pod.name for pod in result.pods]
    assert len(names) == 3 and len(set(names)) == 3
    hash_text = result.pods[0].labels["pod-template-hash"]
    for pod in result.pods:
        assert re.fullmatch(rf"w-{hash_text}-{SAFE}{{5}}", pod.name)
        assert pod.labels == {"app": "w", "pod-template-hash": hash_text}
        assert pod.owner.kind == "Deployment" and pod.owner.replicas == 3
        assert pod.owner.template_hash == hash_text
        assert pod.owner.raw == {"replicas": 3, "selector": {"matchLabels": {"app": "w"}}}
    assert len({pod.uid for pod in result.pods}) == 3


def test_template_hash_is_stable_and_tracks_the_template():
    first = template_hash({"spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    again = template_hash({"spec": {"containers": [{"image": "busybox", "name": "c"}]}})
    other = template_hash({"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}})
    assert first == again != other
    assert re.fullmatch(f"{SAFE}+", first)


def test_deployment_defaults_to_one_replica_and_allows_zero():
    assert len(run(workload("Deployment", SELECTOR)).pods) == 1
    assert run(workload("Deployment", "  replicas: 0\n" + SELECTOR)).pods == []


def test_selector_must_match_template_labels():
    with pytest.raises(ManifestError, match=r"app.yaml:\d+: spec.selector: does not match the template's labels"):
        run(workload("Deployment", "  selector: {matchLabels: {app: other}}\n"))
    with pytest.raises(ManifestError, match="spec.selector: required field is missing"):
        run(workload("Deployment", ""))


def test_match_expressions_are_evaluated():
    spec = "  selector:\n    matchExpressions:\n    - {key: app, operator: In, values: [w, x]}\n"
    assert len(run(workload("ReplicaSet", spec)).pods) == 1
    spec = "  selector:\n    matchExpressions:\n    - {key: app, operator: DoesNotExist}\n"
    with pytest.raises(ManifestError, match="does not match"):
        run(workload("ReplicaSet", spec))


def test_replica_set_and_daemon_set_names():
    result = run(workload("ReplicaSet", "  replicas: 2\n" + SELECTOR))
    assert all(re.fullmatch(f"w-{SAFE}{{5}}", pod.name) for pod in result.pods)
    assert result.pods[0].labels == {"app": "w"}
    result = run(workload("DaemonSet", SELECTOR))
    [pod] = result.pods
    assert re.fullmatch(f"w-{SAFE}{{5}}", pod.name) and pod.owner.kind == "DaemonSet"


def test_job_options_travel_in_the_owner():
    spec = "  completions: 5\n  parallelism: 2\n  backoffLimit: 3\n  activeDeadlineSeconds: 60\n"
    result = run(workload("Job", spec, "      restartPolicy: OnFailure\n", api="batch/v1"))
    assert len(result.pods) == 2
    pod = result.pods[0]
    assert re.fullmatch(f"w-{SAFE}{{5}}", pod.name)
    assert pod.restart_policy == "OnFailure"
    assert pod.labels["job-name"] == "w" and pod.labels["batch.kubernetes.io/job-name"] == "w"
    assert pod.owner.raw == {"completions": 5, "parallelism": 2, "backoffLimit": 3, "activeDeadlineSeconds": 60}


@pytest.mark.parametrize("policy, shown", [("      restartPolicy: Always\n", '"Always"'), ("", "not set")])
def test_job_refuses_restart_policy_always(policy, shown):
    with pytest.raises(ManifestError) as caught:
        run(workload("Job", "", policy, api="batch/v1"))
    assert f'spec.template.spec.restartPolicy: {shown}: a Job needs restartPolicy "Never" or "OnFailure"' \
        in caught.value.message


def test_config_objects_claims_and_services_are_collected():
    text = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, labels: {tier: db}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {k: v}
"""
    result = run(text)
    [claim] = result.claims
    assert (claim.name, claim.size, claim.labels) == ("data", 2 * 2**30, {"tier": "db"})
    assert result.services[0].ports[0].target_port == "http"
    assert result.secrets == {"s": {"k": b"v"}} and result.configmaps == {"c": {"k": b"v"}}
    assert result.pods == [] and result.warnings == []


def test_duplicate_pod_names_are_refused():
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: same}\nspec:\n  containers: [{name: c, image: busybox}]\n"
    with pytest.raises(ManifestError, match='pod "same" is defined twice'):
        run(pod + "---\n" + pod)


def test_shipped_examples_translate_without_warnings():
    from pathlib import Path

    from kubeplay.translate.loader import load

    from kubeplay.translate.run import translate

    examples = Path(__file__).resolve().parent.parent.parent / "manifests" / "examples"
    result = translate(load([str(examples)]))
    assert result.warnings == []
    assert {pod.owner.kind if pod.owner else "Pod" for pod in result.pods} == {
        "Job", "Pod", "Deployment", "ReplicaSet", "DaemonSet"}

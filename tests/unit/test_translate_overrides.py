"""--patch and --configmap: applied before translation, with clear errors."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from kubeplay.translate.loader import parse
from kubeplay.translate.run import translate
from kubeplay.translate.overrides import apply_patches, load_configmaps, merge_patch

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox
        env: [{name: FROM, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}]
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_json_patch_changes_replicas(tmp_path):
    patch = write(tmp_path, "p.yaml", "target: {kind: Deployment, name: web}\n"
                                      "patch: [{op: replace, path: /spec/replicas, value: 3}]\n")
    configmap = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
                                           "data: {mode: fast}\n")
    documents = apply_patches(parse(DEPLOYMENT, "app.yaml"), [patch]) + load_configmaps([configmap])
    result = translate(documents)
    assert len(result.pods) == 3
    assert result.pods[0].containers[0].env[0].value == "fast"


def test_merge_patch_naming_its_target(tmp_path):
    patch = write(tmp_path, "p.yaml", "kind: Deployment\nmetadata: {name: web}\n"
                                      "spec: {template: {metadata: {labels: {tier: front}}}}\n")
    cm = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: x}\n")
    result = translate(apply_patches(parse(DEPLOYMENT, "app.yaml"), [patch]) + load_configmaps([cm]))
    assert result.pods[0].labels["tier"] == "front" and result.pods[0].labels["app"] == "web"


def test_patch_of_a_missing_object_names_it(tmp_path):
    patch = write(tmp_path, "p.yaml", "target: {kind: Deployment, name: nope}\npatch: []\n")
    with pytest.raises(ManifestError, match="no Deployment named 'nope'"):
        apply_patches(parse(DEPLOYMENT, "app.yaml"), [patch])


def test_bad_operation_is_a_manifest_error(tmp_path):
    patch = write(tmp_path, "p.yaml", "target: {kind: Deployment, name: web}\n"
                                      "patch: [{op: remove, path: /spec/nothing}]\n")
    with pytest.raises(ManifestError, match="cannot apply"):
        apply_patches(parse(DEPLOYMENT, "app.yaml"), [patch])


def test_configmap_files_hold_only_configmaps(tmp_path):
    other = write(tmp_path, "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                                        "spec: {containers: [{name: c, image: busybox}]}\n")
    with pytest.raises(ManifestError, match="ConfigMaps"):
        load_configmaps([other])


@pytest.mark.parametrize("target, patch, expected", [
    ({"a": 1, "b": 2}, {"b": None}, {"a": 1}),
    ({"a": {"x": 1}}, {"a": {"y": 2}}, {"a": {"x": 1, "y": 2}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}),
])
def test_merge_patch_follows_rfc_7386(target, patch, expected):
    assert merge_patch(target, patch) == expected


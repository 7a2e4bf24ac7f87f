"""--patch as a strategic merge patch: lists merged on their Kubernetes merge keys, and mistakes
the patch brings reported at the patch file's line."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from kubeplay.translate.loader import parse
from kubeplay.translate.run import translate
from kubeplay.translate.overrides import apply_patches
from kubeplay.translate.positions import snapshot

POD = """apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  volumes: [{name: data, emptyDir: {}}, {name: cache, emptyDir: {}}]
  containers:
  - name: app
    image: busybox
    env: [{name: A, value: "1"}, {name: B, value: "2"}]
    ports: [{containerPort: 80, name: http}, {containerPort: 443}]
    volumeMounts: [{name: data, mountPath: /data}, {name: cache, mountPath: /cache}]
  - name: sidecar
    image: busybox
"""


def patched(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    [document] = apply_patches(parse(POD, "pod.yaml"), [str(path)])
    return document


def test_lists_merge_on_their_keys(tmp_path):
    document = patched(tmp_path, """kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: busybox:1.36
    env: [{name: B, value: "two"}, {name: C, value: "3"}]
    ports: [{containerPort: 80, name: web}, {containerPort: 8080}]
    volumeMounts: [{name: data, mountPath: /cache}]
  - name: extra
    image: alpine
  volumes: [{name: logs, emptyDir: {}}]
""")
    spec = snapshot(document.body)["spec"]
    app, sidecar, extra = spec["containers"]
    assert (app["image"], sidecar["name"], extra["image"]) == ("busybox:1.36", "sidecar", "alpine")
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}]
    assert app["ports"] == [{"containerPort": 80, "name": "web"}, {"containerPort": 443}, {"containerPort": 8080}]
    assert app["volumeMounts"] == [{"name": "data", "mountPath": "/data"}, {"name": "data", "mountPath": "/cache"}]
    assert [v["name"] for v in spec["volumes"]] == ["data", "cache", "logs"]
    pod = translate([document]).pods[0]
    assert [c.name for c in pod.containers] == ["app", "sidecar", "extra"]


def test_delete_and_replace_directives_and_null(tmp_path):
    document = patched(tmp_path, """kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: sidecar, $patch: delete}
  - name: app
    env: [{name: A, $patch: delete}]
    ports: null
  volumes:
  - {name: cache, $patch: delete}
""")
    spec = snapshot(document.body)["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app"]
    assert spec["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert "ports" not in spec["containers"][0]
    assert [v["name"] for v in spec["volumes"]] == ["data"]

    replaced = patched(tmp_path, "kind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
                                 "  - name: app\n    resources: {$patch: replace, limits: {cpu: 1}}\n")
    assert snapshot(replaced.body)["spec"]["containers"][0]["resources"] == {"limits": {"cpu": 1}}


def test_an_error_the_patch_brings_names_the_patch_file_and_line(tmp_path):
    document = patched(tmp_path, """kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    ports:
    - containerPort: 99999
""")
    with pytest.raises(ManifestError) as error:
        translate([document]).pods  # noqa: B018
    assert f"{tmp_path / 'p.yaml'}:7" in error.value.message
    assert "pod.yaml" not in error.value.message


def test_an_item_without_its_merge_key_is_refused_at_its_line(tmp_path):
    with pytest.raises(ManifestError) as error:
        patched(tmp_path, "kind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - image: alpine\n")
    assert f"{tmp_path / 'p.yaml'}:5" in error.value.message and "'name'" in error.value.message
    with pytest.raises(ManifestError) as error:
        patched(tmp_path, "kind: Pod\nmetadata: {name: web}\nspec:\n  $retainKeys: [containers]\n")
    assert "$retainKeys" in error.value.message


def test_target_with_strategic_and_merge_forms(tmp_path):
    strategic = patched(tmp_path, "target: {kind: Pod, name: web}\n"
                                  "strategic: {spec: {containers: [{name: app, image: alpine}]}}\n")
    assert [c["image"] for c in snapshot(strategic.body)["spec"]["containers"]] == ["alpine", "busybox"]
    merge = patched(tmp_path, "target: {kind: Pod, name: web}\n"
                              "merge: {spec: {containers: [{name: app, image: alpine}]}}\n")
    assert snapshot(merge.body)["spec"]["containers"] == [{"name": "app", "image": "alpine"}]

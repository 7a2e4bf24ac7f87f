"""Volumes: hostPath against the manifest's directory, emptyDir, configMap/secret items and modes,
downwardAPI, projected, claims, images, and refusal of paths that leave the volume."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from tests.unit.test_translate_helpers import pod_yaml, run

CONTAINER = "- name: app\n  image: busybox\n"
OBJECTS = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a.conf: "alpha", b.conf: "beta"}
binaryData: {blob: AAEC}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {pw: cHc=}
"""


def volumes_of(spec: str, objects: str = OBJECTS) -> dict:
    result = run(pod_yaml(CONTAINER, spec) + objects, base_dir="/srv/app")
    return {volume.name: volume for volume in result.pods[0].volumes}


def test_host_path_resolves_against_the_manifest_directory():
    volumes = volumes_of("""\
volumes:
- {name: rel, hostPath: {path: ./data/../logs, type: DirectoryOrCreate}}
- {name: abs, hostPath: {path: /var/run/x.sock, type: Socket}}
""")
    assert (volumes["rel"].host_path, volumes["rel"].host_path_type) == ("/srv/app/logs", "DirectoryOrCreate")
    assert volumes["abs"].host_path == "/var/run/x.sock"
    assert volumes["rel"].raw == {"path": "./data/../logs", "type": "DirectoryOrCreate"}


def test_host_path_type_is_checked():
    with pytest.raises(ManifestError, match=r'unknown value "Dir" \(expected DirectoryOrCreate'):
        volumes_of("volumes:\n- {name: h, hostPath: {path: /x, type: Dir}}\n")


def test_empty_dir_medium_and_size():
    volumes = volumes_of("volumes:\n- {name: m, emptyDir: {medium: Memory, sizeLimit: 64Mi}}\n")
    assert (volumes["m"].kind, volumes["m"].medium, volumes["m"].size_limit) == ("emptyDir", "Memory", 64 * 2**20)


def test_config_map_without_items_takes_every_key_including_binary():
    volumes = volumes_of("volumes:\n- {name: c, configMap: {name: cfg}}\n")
    files = {f.path: f for f in volumes["c"].files}
    assert files["a.conf"].content == b"alpha" and files["blob"].content == b"\x00\x01\x02"
    assert volumes["c"].default_mode == 0o644 and volumes["c"].source_name == "cfg"


def test_items_choose_keys_paths_and_modes():
    volumes = volumes_of("""\
volumes:
- name: c
  configMap:
    name: cfg
    defaultMode: 0440
    items:
    - {key: a.conf, path: nested/dir/a.conf, mode: 0600}
    - {key: b.conf, path: b}
- name: s
  secret: {secretName: sec}
""")
    files = volumes["c"].files
    assert [(f.path, f.content, f.mode) for f in files] == [("nested/dir/a.conf", b"alpha", 0o600), ("b", b"beta", None)]
    assert volumes["c"].default_mode == 0o440
    assert volumes["s"].default_mode == 0o644
    assert volumes["s"].files[0].content == b"pw" and volumes["s"].source_name == "sec"


@pytest.mark.parametrize("path, problem", [
    ("/etc/passwd", "must be a relative path"),
    ("../escape", 'must not contain ".."'),
    ("a/../../b", 'must not contain ".."'),
])
def test_item_paths_that_leave_the_volume_are_refused(path, problem):
    spec = f"volumes:\n- name: c\n  configMap:\n    name: cfg\n    items:\n    - {{key: a.conf, path: '{path}'}}\n"
    with pytest.raises(ManifestError) as caught:
        volumes_of(spec)
    assert caught.value.message == f'app.yaml:11: spec.volumes[0].configMap.items[0].path: "{path}" {problem}'


def test_missing_sources_are_errors_unless_optional():
    with pytest.raises(ManifestError, match='ConfigMap "nope" not found'):
        volumes_of("volumes:\n- {name: c, configMap: {name: nope}}\n")
    with pytest.raises(ManifestError, match='key "zz" not found in Secret "sec"'):
        volumes_of("volumes:\n- {name: s, secret: {secretName: sec, items: [{key: zz, path: zz}]}}\n")
    volumes = volumes_of("volumes:\n- {name: c, configMap: {name: nope, optional: true}}\n")
    assert volumes["c"].files == () and volumes["c"].optional


def test_downward_api_files_resolve_now_or_at_start():
    volumes = volumes_of("""\
volumes:
- name: info
  downwardAPI:
    items:
    - {path: name, fieldRef: {fieldPath: metadata.name}}
    - {path: labels, fieldRef: {fieldPath: metadata.labels}}
    - {path: ip, fieldRef: {fieldPath: status.podIP}}
    - {path: mem, resourceFieldRef: {containerName: app, resource: limits.memory}}
""").get("info")
    files = {f.path: f for f in volumes.files}
    assert files["name"].content == b"p"
    assert files["labels"].content == b""
    assert (files["ip"].content, files["ip"].field_path) == (b"", "status.podIP")
    assert int(files["mem"].content) > 0  # no limit: the machine's memory, as node allocatable


def test_projected_volume_merges_sources_and_skips_tokens_with_a_warning():
    result = run(pod_yaml(CONTAINER, """\
volumes:
- name: all
  projected:
    sources:
    - configMap: {name: cfg, items: [{key: a.conf, path: a}]}
    - secret: {name: sec}
    - downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}
    - serviceAccountToken: {path: token}
""") + OBJECTS)
    volume = result.pods[0].volumes[0]
    assert [(f.path, f.content) for f in volume.files] == [("a", b"alpha"), ("pw", b"pw"), ("ns", b"default")]
    assert any("cannot project serviceAccountToken" in warning for warning in result.warnings)
    assert not any("ignores" in warning for warning in result.warnings)


def test_claims_and_image_volumes():
    volumes = volumes_of("""\
volumes:
- {name: data, persistentVolumeClaim: {claimName: db-data, readOnly: true}}
- {name: tools, image: {reference: "busybox:1.36", pullPolicy: IfNotPresent}}
""")
    assert (volumes["data"].claim_name, volumes["data"].read_only) == ("db-data", True)
    assert (volumes["tools"].kind, volumes["tools"].image) == ("image", "busybox:1.36")


def test_volume_sources_kubeplay_cannot_provide_are_errors():
    with pytest.raises(ManifestError, match="kubeplay cannot provide nfs volumes"):
        volumes_of("volumes:\n- {name: n, nfs: {server: s, path: /}}\n")

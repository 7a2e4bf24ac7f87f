"""Names that become paths or host objects: every such field of a manifest refuses a hostile name with
file:line, and the store refuses to join one to a directory whatever its origin."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import ManifestError, UserError
from kubeplay.model.plan import PodPlan, VolumePlan
from kubeplay.names import LABEL, SUBDOMAIN, file_name_problem, name_problem, store_child
from kubeplay.pods.lock import lock_file_name, lock_path
from kubeplay.pods.paths import PodPaths
from kubeplay.pods.volumes import claim_path, prepare_volumes
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import parse
from kubeplay.translate.run import translate

HOSTILE_NAMES = ["../x", "/tmp/x", "a/b", ".", "..", "UPPER", "a" * 254, "", "a\x00b", "a\nb"]
# of those, what a relative path inside a volume (subPath, an item's path) may not be
HOSTILE_PATHS = ["../x", "/tmp/x", "..", "a/../../b", "a\x00b"]
HOSTILE_FILE_PATHS = HOSTILE_PATHS + [".", ""]
HOSTILE_IMAGES = ["../x", "/tmp/x", ".", "..", "x/UPPER", "", "a\x00b", "a\nb"]


def base_documents() -> list[dict]:
    """A pod that sets every field whose value becomes a path or a host object, and its objects."""
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "hostname": "h", "subdomain": "s",
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{
                "name": "app", "image": "busybox",
                "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec"}}],
                "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
                        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/data", "subPath": "sub"}],
            }],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
                {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "file"}]}},
                {"name": "sec", "secret": {"secretName": "sec", "items": [{"key": "k", "path": "file"}]}},
                {"name": "proj", "projected": {"sources": [{"configMap": {"name": "cfg"}},
                                                           {"secret": {"name": "sec"}}]}},
                {"name": "down", "downwardAPI": {"items": [{"path": "name",
                                                           "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "img", "image": {"reference": "busybox"}},
            ],
        },
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "ns"},
                  "data": {"k": "v"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec", "namespace": "ns"},
              "stringData": {"k": "v"}}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "claim", "namespace": "ns"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    return [pod, config_map, secret, claim, deployment]


# (document index, field path as messages name it, keys to reach it); every path-forming field
NAME_FIELDS = [
    (0, "metadata.name", ["metadata", "name"]),
    (0, "metadata.namespace", ["metadata", "namespace"]),
    (0, "spec.hostname", ["spec", "hostname"]),
    (0, "spec.subdomain", ["spec", "subdomain"]),
    (0, "spec.initContainers[0].name", ["spec", "initContainers", 0, "name"]),
    (0, "spec.containers[0].name", ["spec", "containers", 0, "name"]),
    (0, "spec.containers[0].envFrom[0].configMapRef.name",
     ["spec", "containers", 0, "envFrom", 0, "configMapRef", "name"]),
    (0, "spec.containers[0].envFrom[1].secretRef.name", ["spec", "containers", 0, "envFrom", 1, "secretRef", "name"]),
    (0, "spec.containers[0].env[0].valueFrom.configMapKeyRef.name",
     ["spec", "containers", 0, "env", 0, "valueFrom", "configMapKeyRef", "name"]),
    (0, "spec.containers[0].env[1].valueFrom.secretKeyRef.name",
     ["spec", "containers", 0, "env", 1, "valueFrom", "secretKeyRef", "name"]),
    (0, "spec.volumes[0].name", ["spec", "volumes", 0, "name"]),
    (0, "spec.volumes[0].persistentVolumeClaim.claimName",
     ["spec", "volumes", 0, "persistentVolumeClaim", "claimName"]),
    (0, "spec.volumes[1].configMap.name", ["spec", "volumes", 1, "configMap", "name"]),
    (0, "spec.volumes[2].secret.secretName", ["spec", "volumes", 2, "secret", "secretName"]),
    (0, "spec.volumes[3].projected.sources[0].configMap.name",
     ["spec", "volumes", 3, "projected", "sources", 0, "configMap", "name"]),
    (0, "spec.volumes[3].projected.sources[1].secret.name",
     ["spec", "volumes", 3, "projected", "sources", 1, "secret", "name"]),
    (1, "metadata.name", ["metadata", "name"]),
    (1, "metadata.namespace", ["metadata", "namespace"]),
    (2, "metadata.name", ["metadata", "name"]),
    (3, "metadata.name", ["metadata", "name"]),
    (4, "metadata.name", ["metadata", "name"]),
    (4, "metadata.namespace", ["metadata", "namespace"]),
]
KEY_FIELDS = [  # ConfigMap and Secret keys: they become file names in volumes
    (0, "spec.containers[0].env[0].valueFrom.configMapKeyRef.key",
     ["spec", "containers", 0, "env", 0, "valueFrom", "configMapKeyRef", "key"]),
    (0, "spec.volumes[1].configMap.items[0].key", ["spec", "volumes", 1, "configMap", "items", 0, "key"]),
    (0, "spec.volumes[2].secret.items[0].key", ["spec", "volumes", 2, "secret", "items", 0, "key"]),
]
PATH_FIELDS = [
    (0, "spec.containers[0].volumeMounts[0].subPath", ["spec", "containers", 0, "volumeMounts", 0, "subPath"],
     HOSTILE_PATHS),
    (0, "spec.volumes[1].configMap.items[0].path", ["spec", "volumes", 1, "configMap", "items", 0, "path"],
     HOSTILE_FILE_PATHS),
    (0, "spec.volumes[4].downwardAPI.items[0].path", ["spec", "volumes", 4, "downwardAPI", "items", 0, "path"],
     HOSTILE_FILE_PATHS),
]
IMAGE_FIELDS = [
    (0, "spec.containers[0].image", ["spec", "containers", 0, "image"]),
    (0, "spec.volumes[5].image.reference", ["spec", "volumes", 5, "image", "reference"]),
]


def cases():
    for document, field, keys in NAME_FIELDS:
        for name in HOSTILE_NAMES:
            yield pytest.param(document, field, keys, name, id=f"{document}:{field}={name!r}")
    for document, field, keys in KEY_FIELDS:
        for name in ["../x", "/tmp/x", "a/b", ".", "..", "..a", "a" * 254, "", "a\x00b", "a\nb"]:
            yield pytest.param(document, field, keys, name, id=f"{document}:{field}={name!r}")
    for document, field, keys, values in PATH_FIELDS:
        for name in values:
            yield pytest.param(document, field, keys, name, id=f"{document}:{field}={name!r}")
    for document, field, keys in IMAGE_FIELDS:
        for name in HOSTILE_IMAGES:
            yield pytest.param(document, field, keys, name, id=f"{document}:{field}={name!r}")


def translate_documents(documents: list[dict]):
    # JSON is YAML: every string survives exactly (a NUL or a newline in a name too), and each
    # document keeps its own lines
    text = "---\n".join(json.dumps(document, indent=1) + "\n" for document in documents)
    return translate(parse(text, "app.yaml", "/manifests"), TranslateOptions(node_name="node1"),
                     rng=random.Random(7))


def set_field(documents: list[dict], document: int, keys: list, value: str) -> list[dict]:
    changed = copy.deepcopy(documents)
    target = changed[document]
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return changed


def test_the_base_manifest_plays():
    result = translate_documents(base_documents())
    assert len(result.pods) == 2


@pytest.mark.parametrize("document, field, keys, name", list(cases()))
def test_every_path_forming_field_refuses_a_hostile_name_with_file_and_line(document, field, keys, name):
    with pytest.raises(ManifestError) as caught:
        translate_documents(set_field(base_documents(), document, keys, name))
    message = caught.value.message
    lines = [line for line in message.splitlines() if f": {field}" in line or f": {field}:" in line]
    assert lines, f"{field} not named in: {message}"
    assert any(line.strip().startswith("app.yaml:") and line.strip().split(":")[1].isdigit() for line in lines), message


def test_every_string_of_a_plan_that_becomes_a_path_is_covered_by_the_table():
    """The plan fields the engine joins to directories, each traced to the manifest fields above."""
    joined = {  # plan field -> the manifest fields that set it
        "PodPlan.name": {"metadata.name"},
        "PodPlan.namespace": {"metadata.namespace"},
        "VolumePlan.name": {"spec.volumes[0].name"},
        "VolumePlan.claim_name": {"spec.volumes[0].persistentVolumeClaim.claimName"},
        "VolumeFile.path": {"spec.volumes[1].configMap.items[0].path", "spec.volumes[4].downwardAPI.items[0].path",
                            "spec.volumes[1].configMap.items[0].key"},
        "MountPlan.sub_path": {"spec.containers[0].volumeMounts[0].subPath"},
        "ContainerPlan.image": {"spec.containers[0].image"},
        "VolumePlan.image": {"spec.volumes[5].image.reference"},
    }
    tested = {field for _, field, *_ in NAME_FIELDS + KEY_FIELDS + PATH_FIELDS + IMAGE_FIELDS}
    for plan_field, fields in joined.items():
        assert fields <= tested, f"{plan_field}: {fields - tested} not in the hostile-name table"
    # a pod's own volume directories, its lock and its claims are the joins the engine makes
    assert {f.name for f in PodPlan.__dataclass_fields__.values()} >= {"name", "namespace", "volumes"}
    assert {f.name for f in VolumePlan.__dataclass_fields__.values()} >= {"name", "claim_name", "files"}


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "/tmp/x", "a/b", "a\x00b", "a\nb", "x" * 256])
def test_store_child_refuses_what_is_not_one_entry_of_its_directory(tmp_path, name):
    with pytest.raises(UserError, match="volume name"):
        store_child(tmp_path, name, "volume")
    assert file_name_problem(name)


def test_store_child_takes_a_plain_name(tmp_path):
    assert store_child(tmp_path, "data-1.x", "volume") == tmp_path / "data-1.x"


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", "..", ""])
def test_engine_joins_refuse_names_that_did_not_come_through_translation(tmp_path, name):
    """Names from a command line or a stored record reach the same joins: none leaves the store."""
    outside = tmp_path / "outside"
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    with pytest.raises(UserError):
        claim_path(settings.root, name)
    if "/" in name:  # a lock is <name>.lock: any other name stays one entry of the locks directory
        with pytest.raises(UserError):
            lock_path(settings, name)
    plan = PodPlan(name="p", volumes=(VolumePlan(name=name, kind="emptyDir"),))
    with pytest.raises(UserError):
        prepare_volumes(plan, PodPaths(settings, "0" * 12), settings.root / "volumes")
    assert not outside.exists() and not (tmp_path / "x").exists()


def test_a_lock_of_the_longest_pod_name_fits_one_file_name(tmp_path):
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    longest = ".".join(["a" * 63] * 4)[:253]
    assert name_problem(longest, SUBDOMAIN) == ""
    assert len(lock_file_name(longest).encode()) <= 255
    assert lock_path(settings, longest).parent == settings.runroot / "locks"
    assert lock_file_name("web") == "web.lock"


@pytest.mark.parametrize("name, rule, problem", [
    ("ok-1", LABEL, ""), ("a.b", LABEL, "not a valid DNS-1123 label"), ("a.b", SUBDOMAIN, ""),
    ("", LABEL, "must not be empty"), ("a" * 64, LABEL, "longer than 63"), ("a" * 254, SUBDOMAIN, "longer than 253"),
    ("a\nb", SUBDOMAIN, "'a\\nb'"), ("-a", LABEL, "not a valid"), (7, LABEL, "expected a string"),
])
def test_name_problem_follows_the_api_server(name, rule, problem):
    found = name_problem(name, rule)
    assert (problem in found) if problem else found == ""


def test_workload_pod_names_are_cut_as_generate_name_cuts_them():
    documents = base_documents()
    documents[4]["metadata"]["name"] = "w" * 250
    result = translate_documents(documents)
    pod = next(plan for plan in result.pods if plan.owner is not None)
    assert len(pod.name) == 63 and name_problem(pod.name, SUBDOMAIN) == ""


def test_nothing_here_touches_the_real_filesystem_outside_tmp():
    assert not Path("/tmp/x/_data").exists()

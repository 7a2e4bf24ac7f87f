"""A corpus of broken manifests: each gives one clear error naming file, line and field; nothing else."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplay.errors import KubeplayError, ManifestError
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import load, parse
from kubeplay.translate.run import translate

BROKEN = Path(__file__).parent.parent / "data" / "broken"

EXPECTED = {
    "indent.yaml": ("indent.yaml:8:", "invalid YAML"),
    "tabs.yaml": ("tabs.yaml:4:", "invalid YAML"),
    "types.yaml": ("types.yaml:8:", "spec.containers[0].ports: expected a list"),
    "noimage.yaml": ("noimage.yaml:6:", "spec.containers[0].image: required field is missing"),
    "dup.yaml": ("dup.yaml:7:", 'container name "a" is used twice'),
    "name.yaml": ("name.yaml:3:", "metadata.name"),
    "b64.yaml": ("b64.yaml:4:", "data.k: is not valid base64"),
    "cmkey.yaml": ("cmkey.yaml:13:", 'key "missing" not found in ConfigMap "c"'),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_manifest_gives_one_clear_error(name):
    where, what = EXPECTED[name]
    with pytest.raises(ManifestError) as caught:
        translate(load([str(BROKEN / name)]))
    message = caught.value.message
    assert where in message and what in message, message
    assert caught.value.hint


def test_unknown_kind_warns_and_is_an_error_under_strict():
    documents = load([str(BROKEN / "kind.yaml")])
    result = translate(documents)
    assert result.pods == [] and any("kind Widget" in w for w in result.warnings)
    with pytest.raises(ManifestError, match="kind Widget"):
        translate(load([str(BROKEN / "kind.yaml")]), TranslateOptions(strict=True))


def test_every_broken_file_is_in_the_table():
    assert {p.name for p in BROKEN.glob("*.yaml")} == set(EXPECTED) | {"kind.yaml"}


VALID = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo $(A)"],
                                 "env": [{"name": "A", "value": "x"}],
                                 "ports": [{"containerPort": 80, "hostPort": 8080}],
                                 "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}},
                                 "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                 "volumes": [{"name": "v", "emptyDir": {}}]}}},
}

ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=8),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                           max_size=2))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


ALL_PATHS = [p for p in _paths(VALID) if p]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), ODD_VALUES, st.booleans()), min_size=1, max_size=4),
       st.integers(0, 2**32 - 1))
def test_mutated_manifests_never_crash(mutations, seed):
    """Whatever is changed or deleted, translation either succeeds or raises a KubeplayError."""
    document = copy.deepcopy(VALID)
    for path, value, delete in mutations:
        parent = document
        try:
            for key in path[:-1]:
                parent = parent[key]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    text = yaml.safe_dump(document)
    try:
        translate(parse(text, "fuzz.yaml"), rng=random.Random(seed))
    except KubeplayError as exc:
        assert exc.message and "Traceback" not in exc.message

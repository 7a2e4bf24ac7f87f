"""generate reads its documents as the `kubernetes` models would, from the schema generated from them:
the output is byte-identical to the models' own dump over every shipped manifest, what the models
refuse is refused, and generate imports neither kubernetes nor pydantic."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kubeplay.errors import EngineError
from kubeplay.generate import GenerateOptions, conform, generate, models
from kubeplay.model.kubeschema import kinds
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import load
from kubeplay.translate.run import translate

ROOT = Path(__file__).resolve().parent.parent.parent
FILES = sorted((ROOT / "manifests" / "examples").glob("*.yaml")) + [
    ROOT / "manifests" / "demo.yaml", ROOT / "tests" / "data" / "manifests" / "pod-full.yaml",
    ROOT / "tests" / "data" / "manifests" / "web-deployment.yaml"]


def by_models(doc: dict) -> dict:
    from kubernetes.client import models as k8s

    model = getattr(k8s, kinds()[doc["kind"]].type)
    return model.from_dict(doc).model_dump(by_alias=True, exclude_none=True)


def _all_texts(groups) -> list[str]:
    texts = []
    for plans in groups:
        for kind in (None, "Deployment", "DaemonSet", "Job"):
            try:
                texts.append(generate(plans, GenerateOptions(kind=kind, service=True, include_secrets=True)).yaml)
            except Exception as exc:  # a kind the pod cannot be (a Job of an Always pod): refused alike
                texts.append(f"refused: {type(exc).__name__}: {exc}")
    return texts


def test_output_is_byte_identical_to_the_models_dump(monkeypatch):
    groups = [translate(load([str(path)]), TranslateOptions()).pods for path in FILES]  # Job pods: random names
    from_schema = _all_texts(groups)
    monkeypatch.setattr(conform, "conform", by_models)
    from_models = _all_texts(groups)
    assert len(from_schema) >= 40 and sum(not t.startswith("refused") for t in from_schema) >= 20
    assert from_schema == from_models


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}}


def _pod_with(**container) -> dict:
    doc = json.loads(json.dumps(POD))
    doc["spec"]["containers"][0].update(container)
    return doc


@pytest.mark.parametrize("doc, where", [
    (_pod_with(ports=[{"containerPort": "80"}]), "spec.containers[0].ports[0].containerPort"),
    (_pod_with(ports=[{"containerPort": True}]), "spec.containers[0].ports[0].containerPort"),
    (_pod_with(tty="yes"), "spec.containers[0].tty"),
    (_pod_with(command="sh -c true"), "spec.containers[0].command"),
    (_pod_with(env=[{"value": "x"}]), "spec.containers[0].env[0].name"),
])
def test_what_the_models_refuse_is_refused_naming_the_field(doc, where):
    with pytest.raises(conform.DoesNotConform, match="^" + re.escape(where)):
        conform.conform(doc)
    with pytest.raises(ValueError):
        by_models(doc)


def test_unknown_fields_and_values_outside_an_enum_are_kubeplay_bugs():
    with pytest.raises(EngineError, match=r"spec.containers\[0\].imagePulPolicy: not a field of V1Container"):
        models.checked(_pod_with(imagePulPolicy="Always"))
    with pytest.raises(EngineError, match=r"imagePullPolicy: 'Sometimes' is not one of"):
        models.checked(_pod_with(imagePullPolicy="Sometimes"))


def test_unset_fields_are_dropped_and_keys_follow_the_model():
    doc = _pod_with(workingDir=None, args=["b"], command=["a"])
    doc["spec"]["restartPolicy"] = "Never"
    checked = models.checked(doc)
    container = checked["spec"]["containers"][0]
    assert list(checked) == ["apiVersion", "kind", "metadata", "spec"]
    assert list(container) == ["name", "args", "command", "image", "ports"]
    assert checked == models.checked(json.loads(json.dumps(checked)))
    assert by_models(doc)["spec"]["containers"][0] == {k: v for k, v in container.items()}


def test_generate_imports_neither_kubernetes_nor_pydantic():
    script = textwrap.dedent(f"""
        import sys
        from kubeplay.generate import GenerateOptions, generate
        from kubeplay.translate.loader import load
        from kubeplay.translate.run import translate
        plans = translate(load([{str(ROOT / "manifests" / "demo.yaml")!r}])).pods
        assert generate(plans, GenerateOptions(service=True)).yaml
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in ("kubernetes", "pydantic"))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""

"""generate loads only the `kubernetes` model modules it checks with: the classes are the package's
own, the output is byte-identical to the ordinary import's, and the ordinary import is the fallback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Every example and test manifest, generated as played and as each workload kind, with Services and
# Secrets: every model kind generate uses is loaded and checked. Plans are translated once (Job pods
# get random names) and handed to both runs as JSON.
SCRIPT = """
import json, sys
mode, plans_file = sys.argv[1], sys.argv[2]
from kubeplay.generate import model_classes
if mode == "ordinary":
    model_classes._alone = lambda class_name, module_name: model_classes._ordinary(class_name)
from kubeplay.generate import GenerateOptions, generate
from kubeplay.model.plan import PodPlan
from kubeplay.model.serial import from_dict
texts = []
for group in json.load(open(plans_file)):
    plans = [from_dict(PodPlan, plan) for plan in group]
    for kind in (None, "Deployment", "DaemonSet", "Job"):
        try:
            texts.append(generate(plans, GenerateOptions(kind=kind, service=True, include_secrets=True)).yaml)
        except Exception as exc:  # a kind the pod cannot be (a Job of an Always pod): refused alike
            texts.append(f"refused: {type(exc).__name__}: {exc}")
loaded = sorted(m for m in sys.modules if m.startswith("kubernetes") and not m.startswith("kubernetes.client.models."))
print(json.dumps({"texts": texts, "loaded": loaded, "classes": sorted(model_classes._loaded)}))
"""


def _plans_file(tmp_path: Path) -> Path:
    from kubeplay.model.serial import to_dict
    from kubeplay.translate import TranslateOptions, load, translate

    files = sorted((ROOT / "manifests" / "examples").glob("*.yaml")) + [
        ROOT / "manifests" / "demo.yaml", ROOT / "tests" / "data" / "manifests" / "pod-full.yaml",
        ROOT / "tests" / "data" / "manifests" / "web-deployment.yaml"]
    groups = [[to_dict(plan) for plan in translate(load([str(path)]), TranslateOptions()).pods] for path in files]
    target = tmp_path / "plans.json"
    target.write_text(json.dumps(groups))
    return target


def _run(mode: str, plans_file: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(plans_file)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_generate_output_is_byte_identical_with_only_the_models_loaded(tmp_path):
    plans_file = _plans_file(tmp_path)
    alone, ordinary = _run("alone", plans_file), _run("ordinary", plans_file)
    assert len(alone["texts"]) >= 40 and sum(not t.startswith("refused") for t in alone["texts"]) >= 20
    assert alone["texts"] == ordinary["texts"]
    assert {"V1Pod", "V1Deployment", "V1DaemonSet", "V1Job", "V1Service"} <= set(alone["classes"])
    assert alone["loaded"] == []  # neither the packages' __init__ nor kube-config, API client, watch
    assert "kubernetes.config" in ordinary["loaded"]


def test_models_loaded_alone_are_the_package_classes_and_the_package_still_imports():
    probe = """
import sys
from kubeplay.generate.model_classes import model_class
pod = model_class("V1Pod", "v1_pod")
assert "kubernetes" not in sys.modules and "kubernetes.client" not in sys.modules
import kubernetes
from kubernetes.client import models
assert models.V1Pod is pod and pod.__module__ == "kubernetes.client.models.v1_pod"
assert model_class("V1Service", "v1_service") is models.V1Service
print(kubernetes.__version__)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_falls_back_to_the_ordinary_import_when_the_shortcut_fails():
    probe = """
import importlib.util, sys
from kubeplay.generate import model_classes
importlib.util.find_spec = lambda name, package=None: None  # as if the package were laid out otherwise
pod = model_classes.model_class("V1Pod", "v1_pod")
assert "kubernetes.config" in sys.modules  # the ordinary import ran
from kubernetes.client import models
assert pod is models.V1Pod
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_an_unknown_model_module_falls_back_too():
    from kubeplay.generate import model_classes

    # no such module: the shortcut raises inside, the ordinary lookup answers
    assert model_classes.model_class("V1ConfigMap", "no_such_module").__name__ == "V1ConfigMap"

"""The shipped field schema matches the installed kubernetes models, and the play path never
imports the kubernetes package."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from kubeplay.translate import schemagen
from kubeplay.model.kubeschema import SCHEMA_FILE, type_schema

ROOT = Path(__file__).resolve().parent.parent.parent


def test_committed_schema_matches_a_fresh_generation():
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    differences = schemagen.schema_differences(committed, json.loads(schemagen.render(schemagen.generate())))
    assert not differences, ("kubeplay/data/k8s-schema.json differs from the installed kubernetes models "
                             "(run `python -m kubeplay.translate.schemagen`):\n" + "\n".join(differences))


def committed_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_only_the_generator_stamp_differing_is_no_difference():
    changed = committed_schema()
    changed["generatedFrom"] = "kubernetes 99.0.0"
    assert schemagen.schema_differences(committed_schema(), changed) == []


def test_a_field_added_or_removed_is_named():
    changed = committed_schema()
    changed["types"]["V1Container"]["fields"]["sidecarMode"] = "string"
    del changed["types"]["V1Probe"]["fields"]["periodSeconds"]
    differences = schemagen.schema_differences(committed_schema(), changed)
    assert "V1Container field sidecarMode is new" in differences
    assert "V1Probe field periodSeconds is gone" in differences
    assert len(differences) == 2


def test_kinds_types_required_enums_and_order_are_compared():
    changed = committed_schema()
    del changed["kinds"]["Job"]
    changed["types"]["V1Made"] = {"fields": {}, "required": []}
    changed["types"]["V1Container"]["required"] = ["name"]
    changed["types"]["V1Container"]["enums"]["imagePullPolicy"] = ["Always"]
    differences = "\n".join(schemagen.schema_differences(committed_schema(), changed))
    for expected in ("kind Job is gone", "type V1Made is new", "V1Container: required fields",
                     "V1Container enum imagePullPolicy changed"):
        assert expected in differences
    reordered = committed_schema()
    fields = reordered["types"]["V1Probe"]["fields"]
    reordered["types"]["V1Probe"]["fields"] = dict(reversed(list(fields.items())))
    assert schemagen.schema_differences(committed_schema(), reordered) == ["V1Probe: fields are in another order"]


def test_schema_carries_json_names_required_fields_enums_and_special_types():
    container = type_schema("V1Container")
    assert container.fields["imagePullPolicy"] == "string"
    assert container.fields["volumeMounts"] == "[]V1VolumeMount"
    assert set(container.required) == {"name", "image"}
    assert container.enums["imagePullPolicy"] == ("Always", "IfNotPresent", "Never")
    assert type_schema("V1ResourceRequirements").fields["limits"] == "{}quantity"
    assert type_schema("V1HTTPGetAction").fields["port"] == "int-or-string"
    assert type_schema("V1EmptyDirVolumeSource").fields["sizeLimit"] == "quantity"
    assert type_schema("V1ObjectMeta").fields["labels"] == "{}string"
    kinds = json.loads(SCHEMA_FILE.read_text())["kinds"]
    assert kinds["Deployment"] == {"apiVersion": "apps/v1", "type": "V1Deployment"}


def test_translate_never_imports_kubernetes():
    script = textwrap.dedent(f"""
        import sys
        import kubeplay.translate
        from kubeplay.translate.loader import load
        from kubeplay.translate.run import translate
        result = translate(load([{str(ROOT / "tests" / "data" / "manifests")!r}]))
        assert result.pods
        heavy = sorted(name for name in sys.modules
                       if name.split(".")[0] in ("kubernetes", "pydantic", "pyroute2"))
        print(",".join(heavy))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""

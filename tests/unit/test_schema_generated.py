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
    fresh = schemagen.render(schemagen.generate())
    assert SCHEMA_FILE.read_text(encoding="utf-8") == fresh, \
        "kubeplay/data/k8s-schema.json is stale: run `python -m kubeplay.translate.schemagen`"


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
        from kubeplay.translate import load, translate
        result = translate(load([{str(ROOT / "tests" / "data" / "manifests")!r}]))
        assert result.pods
        heavy = sorted(name for name in sys.modules
                       if name.split(".")[0] in ("kubernetes", "pydantic", "pyroute2"))
        print(",".join(heavy))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""

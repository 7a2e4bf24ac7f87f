"""Helpers for the generate tests: the manifest corpus, plan comparison, and a JSON schema built
from kubeplay's field schema (kubeplay/data/k8s-schema.json) for jsonschema to check output with."""

from __future__ import annotations

import dataclasses
import json
import random
from functools import cache
from pathlib import Path

from kubeplay.model.plan import PodPlan
from kubeplay.model.serial import to_jsonable
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import load, parse
from kubeplay.translate.run import translate
from kubeplay.model.kubeschema import SCHEMA_FILE

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted([*(REPO / "manifests" / "examples").glob("*.yaml"),
                 *(REPO / "tests" / "data" / "manifests").glob("*.yaml"),
                 *(REPO / "tests" / "data" / "manifests").glob("*.json")])
GENERATED_LABELS = ("pod-template-hash", "controller-uid", "batch.kubernetes.io/controller-uid")


def translate_files(paths: list[Path], seed: int = 1):
    return translate(load([str(p) for p in paths]), TranslateOptions(node_name="node-a"), rng=random.Random(seed))


def translate_text(text: str, seed: int = 2):
    return translate(parse(text, "generated.yaml"), TranslateOptions(node_name="node-a"), rng=random.Random(seed))


def comparable(plan: PodPlan) -> dict:
    """A plan without what differs on every play: uid, source, replica names and their echoes."""
    data = to_jsonable(dataclasses.replace(plan, uid="", source=dataclasses.replace(plan.source, file="", document=0)))
    data["labels"] = {k: v for k, v in data["labels"].items() if k not in GENERATED_LABELS}
    for volume in data["volumes"]:
        volume["line"] = 0  # where it stood in its manifest, as source
        if volume["kind"] == "hostPath" and volume["raw"]:
            volume["raw"]["path"] = volume["host_path"]  # a relative path comes back resolved
    if plan.owner:
        data["name"] = plan.owner.name
        data["owner"]["template_hash"] = ""
    identities = {plan.name: "<pod>", plan.uid: "<uid>"} if plan.uid else {plan.name: "<pod>"}
    return json.loads(_replace_all(json.dumps(data, sort_keys=True), identities))


def _replace_all(text: str, table: dict[str, str]) -> str:
    for old, new in sorted(table.items(), key=lambda item: -len(item[0])):
        if old:
            text = text.replace(old, new)
    return text


def comparable_all(plans: list[PodPlan]) -> list[dict]:
    return sorted((comparable(p) for p in plans), key=lambda d: json.dumps(d, sort_keys=True))


@cache
def k8s_json_schema() -> dict:
    """kubeplay's field schema as a JSON schema: unknown fields, wrong types, missing required fail."""
    raw = json.loads(SCHEMA_FILE.read_text())
    definitions = {}
    for name, entry in raw["types"].items():
        properties = {field: _type(kind) for field, kind in entry["fields"].items()}
        for field, values in entry.get("enums", {}).items():
            enum = {"enum": values}
            properties[field] = {"type": "array", "items": enum} if entry["fields"][field].startswith("[]") else enum
        definitions[name] = {"type": "object", "properties": properties, "required": entry["required"],
                             "additionalProperties": False}
    kinds = {kind: {"$ref": f"#/definitions/{entry['type']}"} for kind, entry in raw["kinds"].items()}
    return {"definitions": definitions, "kinds": kinds}


def _type(kind: str) -> dict:
    if kind.startswith("[]"):
        return {"type": "array", "items": _type(kind[2:])}
    if kind.startswith("{}"):
        return {"type": "object", "additionalProperties": _type(kind[2:])}
    simple = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
              "boolean": {"type": "boolean"}, "any": {}, "datetime": {"type": "string"},
              "int-or-string": {"type": ["integer", "string"]}, "quantity": {"type": ["string", "integer", "number"]}}
    return simple.get(kind, {"$ref": f"#/definitions/{kind}"})


@cache
def _validator(kind: str):
    import jsonschema

    schema = k8s_json_schema()
    kind_schema = {**schema["kinds"][kind], "definitions": schema["definitions"]}
    return jsonschema.Draft7Validator(kind_schema)


def validate_document(document: dict) -> None:
    """Raises jsonschema.ValidationError naming the first field that does not fit."""
    _validator(document["kind"]).validate(document)

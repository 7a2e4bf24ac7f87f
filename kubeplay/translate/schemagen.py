"""Generates kubeplay/data/k8s-schema.json from the installed `kubernetes` package's models.

Run once after upgrading `kubernetes`: `python -m kubeplay.translate.schemagen`. The play path then
reads the compact JSON instead of importing the models, which are slow to import. The models carry
field names, JSON names, types and which fields are required; they do not carry enum values,
quantities or int-or-string, so those come from the small hand tables below.

Type notation in the file: "string", "integer", "number", "boolean", "any", "int-or-string",
"quantity", "datetime", a model name such as "V1PodSpec", "[]T" for a list of T, "{}T" for a map
from strings to T.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

# kind -> (apiVersion, model); the root objects kubeplay reads
KINDS: dict[str, tuple[str, str]] = {
    "Pod": ("v1", "V1Pod"),
    "Deployment": ("apps/v1", "V1Deployment"),
    "ReplicaSet": ("apps/v1", "V1ReplicaSet"),
    "DaemonSet": ("apps/v1", "V1DaemonSet"),
    "Job": ("batch/v1", "V1Job"),
    "ConfigMap": ("v1", "V1ConfigMap"),
    "Secret": ("v1", "V1Secret"),
    "PersistentVolumeClaim": ("v1", "V1PersistentVolumeClaim"),
    "Service": ("v1", "V1Service"),
}

# Fields of type `object` in the models that Kubernetes defines as IntOrString.
INT_OR_STRING_NAMES = {"port", "targetPort", "maxSurge", "maxUnavailable", "minAvailable"}

# (model, JSON field) -> quantity or map of quantities; the models call them plain strings.
QUANTITIES = {
    ("V1ResourceRequirements", "limits"),
    ("V1ResourceRequirements", "requests"),
    ("V1VolumeResourceRequirements", "limits"),
    ("V1VolumeResourceRequirements", "requests"),
    ("V1EmptyDirVolumeSource", "sizeLimit"),
    ("V1ResourceFieldSelector", "divisor"),
    ("V1PodSpec", "overhead"),
}

# Fields a pod cannot run without even where the OpenAPI leaves them optional for templates.
EXTRA_REQUIRED = {("V1Container", "image")}

# (model, JSON field) -> legal values; Kubernetes documents these in prose only.
ENUMS: dict[tuple[str, str], list[str]] = {
    ("V1Container", "imagePullPolicy"): ["Always", "IfNotPresent", "Never"],
    ("V1Container", "restartPolicy"): ["Always", "OnFailure", "Never"],
    ("V1Container", "terminationMessagePolicy"): ["File", "FallbackToLogsOnError"],
    ("V1PodSpec", "restartPolicy"): ["Always", "OnFailure", "Never"],
    ("V1PodSpec", "dnsPolicy"): ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
    ("V1ContainerPort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("V1ServicePort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("V1ServiceSpec", "type"): ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
    ("V1HostPathVolumeSource", "type"): ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File",
                                         "Socket", "CharDevice", "BlockDevice"],
    ("V1VolumeMount", "mountPropagation"): ["None", "HostToContainer", "Bidirectional"],
    ("V1SeccompProfile", "type"): ["RuntimeDefault", "Unconfined", "Localhost"],
    ("V1SecurityContext", "procMount"): ["Default", "Unmasked"],
    ("V1HTTPGetAction", "scheme"): ["HTTP", "HTTPS"],
    ("V1DeploymentStrategy", "type"): ["Recreate", "RollingUpdate"],
    ("V1JobSpec", "completionMode"): ["NonIndexed", "Indexed"],
    ("V1PersistentVolumeClaimSpec", "accessModes"): ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
                                                     "ReadWriteOncePod"],
}

# Output-only parts of an object that need no walking.
SKIPPED_FIELDS = {("V1Pod", "status"), ("V1Deployment", "status"), ("V1ReplicaSet", "status"),
                  ("V1DaemonSet", "status"), ("V1Job", "status"), ("V1PersistentVolumeClaim", "status"),
                  ("V1Service", "status"), ("V1ObjectMeta", "managedFields")}

SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
           "datetime": "datetime", "date": "datetime", "object": "any", "bytearray": "string", "bytes": "string"}

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "k8s-schema.json"


def _field_type(model: str, json_name: str, openapi_type: str, pending: list[str]) -> str:
    if (model, json_name) in QUANTITIES:
        return "{}quantity" if openapi_type.startswith("Dict[") else "quantity"
    if openapi_type == "object" and json_name in INT_OR_STRING_NAMES:
        return "int-or-string"
    if (model, json_name) in SKIPPED_FIELDS:
        return "any"
    return _type_of(openapi_type, pending)


def _type_of(openapi_type: str, pending: list[str]) -> str:
    if match := re.fullmatch(r"List\[(.+)\]", openapi_type):
        return "[]" + _type_of(match.group(1), pending)
    if match := re.fullmatch(r"Dict\[str, (.+)\]", openapi_type):
        return "{}" + _type_of(match.group(1), pending)
    if openapi_type in SCALARS:
        return SCALARS[openapi_type]
    pending.append(openapi_type)
    return openapi_type


def _describe(models: Any, name: str, pending: list[str]) -> dict[str, Any]:
    cls = getattr(models, name)
    fields: dict[str, str] = {}
    required: list[str] = []
    for attribute, openapi_type in cls.openapi_types.items():
        json_name = cls.attribute_map[attribute]
        fields[json_name] = _field_type(name, json_name, openapi_type, pending)
        if _is_required(cls, attribute) or (name, json_name) in EXTRA_REQUIRED:
            required.append(json_name)
    entry: dict[str, Any] = {"fields": fields, "required": sorted(required)}
    enums = {field: values for (model, field), values in ENUMS.items() if model == name}
    if enums:
        entry["enums"] = enums
    return entry


def _is_required(cls: Any, attribute: str) -> bool:
    model_fields = getattr(cls, "model_fields", None)
    if model_fields is not None and attribute in model_fields:
        return bool(model_fields[attribute].is_required())
    return False


def generate() -> dict[str, Any]:
    """The schema as a JSON-able dict, deterministic for a given `kubernetes` version."""
    import kubernetes
    from kubernetes.client import models

    pending = [model for _, model in KINDS.values()]
    types: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name not in types:
            types[name] = _describe(models, name, pending)
    return {
        "generatedFrom": f"kubernetes {kubernetes.__version__}",
        "kinds": {kind: {"apiVersion": api, "type": model} for kind, (api, model) in KINDS.items()},
        "types": types,
    }


def render(schema: dict[str, Any]) -> str:
    """Kinds, types and enums sorted by name; each type's fields in the model's own order, which is
    the order generate writes them in (as the models' own dump would)."""
    types = {name: {key: _sorted(value) if key == "enums" else value for key, value in sorted(entry.items())}
             for name, entry in sorted(schema["types"].items())}
    ordered = {"generatedFrom": schema["generatedFrom"], "kinds": _sorted(schema["kinds"]), "types": types}
    return json.dumps(ordered, indent=1) + "\n"


def schema_differences(committed: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """What differs between two schemas in kinds, types, fields (and their order), required fields
    and enums, one line each; the generator's version stamp is not compared."""
    found = _key_differences("kind", committed["kinds"], fresh["kinds"])
    old_types, new_types = committed["types"], fresh["types"]
    found += _key_differences("type", old_types, new_types, compare_values=False)
    for name in sorted(old_types.keys() & new_types.keys()):
        old, new = old_types[name], new_types[name]
        field_differences = _key_differences(f"{name} field", old["fields"], new["fields"])
        if not field_differences and list(old["fields"]) != list(new["fields"]):
            field_differences.append(f"{name}: fields are in another order")
        found += field_differences
        if old.get("required", []) != new.get("required", []):
            found.append(f"{name}: required fields {old.get('required', [])} became {new.get('required', [])}")
        found += _key_differences(f"{name} enum", old.get("enums", {}), new.get("enums", {}))
    return found


def _key_differences(what: str, old: dict[str, Any], new: dict[str, Any], compare_values: bool = True) -> list[str]:
    found = [f"{what} {key} is new" for key in sorted(new.keys() - old.keys())]
    found += [f"{what} {key} is gone" for key in sorted(old.keys() - new.keys())]
    if compare_values:
        found += [f"{what} {key} changed: {old[key]!r} -> {new[key]!r}"
                  for key in sorted(old.keys() & new.keys()) if old[key] != new[key]]
    return found


def _sorted(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: _sorted(value) if isinstance(value, dict) else value for key, value in sorted(mapping.items())}


def main() -> int:
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(render(generate()), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

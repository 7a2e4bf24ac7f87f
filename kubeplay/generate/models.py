"""Manifests checked against the `kubernetes` package's models, and dumped as YAML in a stable order.

Generation builds plain camelCase dicts; every document then goes through its kind's model
(`V1Pod.from_dict`, ...), which checks field types and required fields, and is dumped back from
the model with unset fields left out. Keys follow the model's order, except that `apiVersion`,
`kind`, `metadata` open a document and `name` opens any mapping that has one, as people write them.
"""

from __future__ import annotations

from typing import Any

from kubeplay.errors import EngineError

# kind: (model class, its module in kubernetes.client.models)
MODELS = {
    "Pod": ("V1Pod", "v1_pod"),
    "Deployment": ("V1Deployment", "v1_deployment"),
    "ReplicaSet": ("V1ReplicaSet", "v1_replica_set"),
    "DaemonSet": ("V1DaemonSet", "v1_daemon_set"),
    "Job": ("V1Job", "v1_job"),
    "Service": ("V1Service", "v1_service"),
    "ConfigMap": ("V1ConfigMap", "v1_config_map"),
    "Secret": ("V1Secret", "v1_secret"),
    "PersistentVolumeClaim": ("V1PersistentVolumeClaim", "v1_persistent_volume_claim"),
}
API_VERSIONS = {
    "Pod": "v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1", "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1", "ReplicaSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1",
}
_FIRST = ("apiVersion", "kind", "metadata")


def document(kind: str, metadata: dict, **body: Any) -> dict:
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": metadata, **body}


def checked(doc: dict) -> dict:
    """The document as its Kubernetes model reads it: types checked, unset fields dropped, keys ordered."""
    from kubeplay.generate.model_classes import model_class as load_model_class

    kind = doc["kind"]
    model_class = load_model_class(*MODELS[kind])
    try:
        model = model_class.from_dict(doc)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        name = (doc.get("metadata") or {}).get("name", "?")
        raise EngineError(f"generated {kind} {name} does not fit the Kubernetes schema: {exc}",
                          hint="this is a kubeplay bug; please report it with the pod's plan "
                               "(`kubeplay pod inspect`)") from exc
    return _ordered(model.model_dump(by_alias=True, exclude_none=True), top=True)


def _ordered(value: Any, top: bool = False) -> Any:
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    if not isinstance(value, dict):
        return value
    first = _FIRST if top else ("name",)
    keys = [key for key in first if key in value] + [key for key in value if key not in first]
    return {key: _ordered(value[key]) for key in keys}


def dump_yaml(documents: list[dict]) -> str:
    """Documents as YAML, `---` between them; multi-line text as literal blocks where YAML allows."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
        style = "|" if "\n" in text else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    Dumper.add_representer(str, represent_text)
    return yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=100, explicit_start=False)

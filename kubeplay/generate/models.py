"""Manifests checked against the `kubernetes` package's models, their keys in a stable order.

Generation builds plain camelCase dicts; every document is then read as its kind's model reads it
(field types and required fields checked, unset fields left out: see conform.py, which walks the
schema generated from the models instead of building the models themselves). Keys follow the
model's order, except that `apiVersion`, `kind`, `metadata` open a document and `name` opens any
mapping that has one, as people write them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeplay.errors import EngineError
from kubeplay.model.kubeschema import kinds

if TYPE_CHECKING:
    from typing import Any

_FIRST = ("apiVersion", "kind", "metadata")


def document(kind: str, metadata: dict, **body: Any) -> dict:
    return {"apiVersion": kinds()[kind].api_version, "kind": kind, "metadata": metadata, **body}


def checked(doc: dict) -> dict:
    """The document as its Kubernetes model reads it: types checked, unset fields dropped, keys ordered."""
    from kubeplay.generate.conform import DoesNotConform, conform

    try:
        conformed = conform(doc)
    except DoesNotConform as exc:
        name = (doc.get("metadata") or {}).get("name", "?")
        raise EngineError(f"generated {doc.get('kind')} {name} does not fit the Kubernetes schema: {exc}",
                          hint="this is a kubeplay bug; please report it with the pod's plan "
                               "(`kubeplay pod inspect`)") from exc
    return _ordered(conformed, top=True)


def _ordered(value: Any, top: bool = False) -> Any:
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    if not isinstance(value, dict):
        return value
    first = _FIRST if top else ("name",)
    keys = [key for key in first if key in value] + [key for key in value if key not in first]
    return {key: _ordered(value[key]) for key in keys}


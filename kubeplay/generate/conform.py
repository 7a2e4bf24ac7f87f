"""A generated document read the way its `kubernetes` model would read and dump it, without the models.

The models (pydantic classes, slow to build) are what kubeplay/data/k8s-schema.json is
generated from: field names, types, required fields, each type's field order. Walking a document
against that file gives what `Model.from_dict(doc).model_dump(by_alias=True, exclude_none=True)`
gives — strict scalar types, unset fields dropped, keys in the model's order — and a unit test keeps
the two identical over every manifest kubeplay ships. Two checks are stricter than the models': a
field the schema does not know is an error (the models drop it silently), and so is a value outside
a field's known enum; both can only come from a kubeplay bug, which is better found than hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeplay.model.kubeschema import SCALAR_WORDS, is_model, is_scalar_of, kinds, type_schema

if TYPE_CHECKING:
    from typing import Any


class DoesNotConform(ValueError):
    """A field of a generated document that its Kubernetes type does not allow."""


def conform(doc: dict) -> dict:
    kind = doc.get("kind")
    schema = kinds().get(kind)
    if schema is None:
        raise DoesNotConform(f"kind: no Kubernetes type for {kind!r}")
    return _value(doc, schema.type, "")


def _value(value: Any, type_name: str, path: str) -> Any:
    if type_name.startswith("[]"):
        if not isinstance(value, (list, tuple)):
            raise DoesNotConform(f"{path}: expected a list, got {value!r}")
        return [_value(item, type_name[2:], f"{path}[{index}]") for index, item in enumerate(value)]
    if type_name.startswith("{}"):
        if not isinstance(value, dict):
            raise DoesNotConform(f"{path}: expected a mapping, got {value!r}")
        return {_key(key, path): _value(item, type_name[2:], f"{path}.{key}") for key, item in value.items()}
    if is_model(type_name):
        return _object(value, type_name, path)
    return _scalar(value, type_name, path)


def _key(key: Any, path: str) -> str:
    if not isinstance(key, str):
        raise DoesNotConform(f"{path}: keys must be strings, got {key!r}")
    return key


def _object(value: Any, type_name: str, path: str) -> dict:
    if not isinstance(value, dict):
        raise DoesNotConform(f"{path or type_name}: expected a mapping ({type_name}), got {value!r}")
    schema = type_schema(type_name)
    unknown = [key for key in value if key not in schema.fields]
    if unknown:
        raise DoesNotConform(f"{_join(path, unknown[0])}: not a field of {type_name}")
    missing = [name for name in schema.required if value.get(name) is None]
    if missing:
        raise DoesNotConform(f"{_join(path, missing[0])}: required by {type_name}")
    out = {}
    for name, field_type in schema.fields.items():
        item = value.get(name)
        if item is None:
            continue
        where = _join(path, name)
        out[name] = _value(item, field_type, where)
        allowed = schema.enums.get(name)
        if allowed is not None:
            for chosen in out[name] if isinstance(out[name], list) else [out[name]]:
                if chosen not in allowed:
                    raise DoesNotConform(f"{where}: {chosen!r} is not one of {', '.join(allowed)}")
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _scalar(value: Any, type_name: str, path: str) -> Any:
    if type_name == "any":
        return value
    if type_name == "datetime":
        from datetime import datetime  # here: kubeplay generates no timestamps

        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise DoesNotConform(f"{path}: expected a date and time, got {value!r}") from None
    if type_name == "quantity":  # the models keep quantities as strings
        if not isinstance(value, str):
            raise DoesNotConform(f"{path}: expected a quantity string, got {value!r}")
        return value
    if not is_scalar_of(value, type_name):
        raise DoesNotConform(f"{path}: expected {SCALAR_WORDS[type_name]}, got {value!r}")
    return value

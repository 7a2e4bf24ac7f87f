"""A stored image record read back with the standard library, checked against the model's types.

Play reads the record of every image it runs. Decoding it through pydantic would load pydantic and
build its schema for that alone, while the rest of play writes and reads no other model; the record
is flat and its types are few, so they are checked here. The reader keeps from_json's rules: keys the
model does not know are ignored, missing ones with a default take it, and anything else that does
not fit is an InvalidData naming the key.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from typing import Any

from kubeplay.model.image import ImageConfig, ImageRecord
from kubeplay.model.serial import InvalidData

# each field's shape in JSON, as the model's type annotations say (a test holds them together)
CONFIG_SHAPES = {"entrypoint": "texts or null", "cmd": "texts or null", "env": "texts", "working_dir": "text",
                 "user": "text", "exposed_ports": "texts", "volumes": "texts", "labels": "labels",
                 "stop_signal": "text"}
RECORD_SHAPES = {"id": "text", "names": "texts", "manifest_digest": "text", "diff_ids": "texts",
                 "config": "config", "size": "integer", "created": "text", "os": "text", "architecture": "text",
                 "variant": "text"}
_WORDS = {"text": "a string", "texts": "a list of strings", "texts or null": "a list of strings or null",
          "labels": "an object of strings", "integer": "an integer", "config": "an object"}


def read_image_record(text: str | bytes) -> ImageRecord:
    """The ImageRecord that to_json wrote as `text`; InvalidData if it is no JSON or does not fit."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidData(f"the top level: not JSON ({exc})") from exc
    return ImageRecord(**_fields_of(ImageRecord, RECORD_SHAPES, data, ""))


def _fields_of(model: type, shapes: dict[str, str], data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidData(f"{where.rstrip('.') or 'the top level'}: not an object")
    values = {}
    for field in fields(model):
        if field.name in data:
            values[field.name] = _value(shapes[field.name], data[field.name], where + field.name)
        elif field.default is MISSING and field.default_factory is MISSING:
            raise InvalidData(f"{where}{field.name}: missing")
    return values


def _value(shape: str, value: Any, where: str) -> Any:
    if shape == "config":
        return ImageConfig(**_fields_of(ImageConfig, CONFIG_SHAPES, value, where + "."))
    if shape == "texts or null" and value is None:
        return None
    if shape in ("texts", "texts or null") and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if shape == "text" and isinstance(value, str):
        return value
    if shape == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if shape == "labels" and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return value
    raise InvalidData(f"{where}: not {_WORDS[shape]}")

"""`get -o custom-columns=HEADER:PATH,...` and `get --sort-by=PATH`, read from the Kubernetes-shaped
objects with the JSONPath of `-o jsonpath` (a path such as .metadata.name, braces optional)."""

from __future__ import annotations

import json
from typing import Any

from kubeplay.errors import UserError

COLUMNS_HINT = "write -o custom-columns=HEADER:PATH,..., e.g. NAME:.metadata.name,IP:.status.podIP"


def parse_columns(spec: str) -> list[tuple[str, str]]:
    """[(HEADER, PATH)] of a custom-columns spec; a PATH is checked against a sample object now."""
    from kubeplay.cli.jsonpath import evaluate

    columns = []
    for part in spec.split(","):
        header, colon, path = part.partition(":")
        if not colon or not header or not path.strip():
            raise UserError(f"custom-columns: {part!r} is not HEADER:PATH", hint=COLUMNS_HINT)
        path = bare_path(path)
        evaluate(path, {})  # a path that does not parse is an error before anything is read
        columns.append((header, path))
    return columns


def bare_path(text: str) -> str:
    """`{.metadata.name}` or `.metadata.name` -> `.metadata.name`."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return text if text.startswith((".", "$", "@")) else "." + text


def cell(obj: dict, path: str) -> str:
    """What a column shows: the values the path reaches, comma-joined; <none> when it reaches nothing."""
    from kubeplay.cli.jsonpath import evaluate

    values = [value for value in evaluate(path, obj) if value is not None]
    if not values:
        return "<none>"
    return ",".join(json.dumps(value) if isinstance(value, (dict, list)) else str(value) for value in values)


def sort_key(obj: dict, path: str) -> tuple:
    """kubectl's --sort-by order: objects without the field first, then numbers by value, then text."""
    from kubeplay.cli.jsonpath import evaluate

    values: list[Any] = evaluate(path, obj)
    if not values or values[0] is None:
        return (0, 0, "")
    first = values[0]
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return (1, first, "")
    return (2, 0, json.dumps(first) if isinstance(first, (dict, list)) else str(first))

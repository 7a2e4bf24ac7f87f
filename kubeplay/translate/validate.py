"""Checking documents against the field schema: kinds, types, required fields, enums, unknown fields.

Every problem is collected into `Issues` with its file, line and field path; nothing raises until
the whole run has been checked. Walking uses plain `dict` methods so it does not count as
translation having read a field.
"""

from __future__ import annotations

import difflib
from typing import Any

from kubeplay.model.kubeschema import SCALAR_WORDS, is_model, is_scalar_of, kinds, type_schema
from kubeplay.translate import checks
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import line_of
from kubeplay.translate.quantity import QuantityError, parse_quantity


def validate(documents: list[Document], issues: Issues) -> list[Document]:
    """The documents worth translating; problems go to `issues`, unknown kinds are left out."""
    known = kinds()
    wanted: list[Document] = []
    for doc in documents:
        if not doc.kind:
            issues.error(doc.file, doc.line, "kind", f"required field is missing ({doc.where})")
            continue
        if doc.kind not in known:
            issues.lenient(doc.file, doc.line, "",
                           f"kubeplay does not support kind {doc.kind} ({doc.where}); it was skipped")
            continue
        expected_api = known[doc.kind].api_version
        if doc.api_version != expected_api:
            got = f'"{doc.api_version}"' if doc.api_version else "missing"
            issues.error(doc.file, line_of(doc.body, "apiVersion") or doc.line, "apiVersion",
                         f"{got} for kind {doc.kind} (expected {expected_api})")
            continue
        before = len(issues.errors)
        walk(doc.body, known[doc.kind].type, "", doc, issues)
        if len(issues.errors) == before:
            checks.check_document(doc, issues)
        if len(issues.errors) == before:
            wanted.append(doc)
    return wanted


def walk(value: Any, type_name: str, path: str, doc: Document, issues: Issues,
         line: int = 0) -> None:
    """Check `value` (found at `path`, on `line`) against a schema type."""
    line = line or doc.line
    if value is None or type_name == "any":
        return
    if type_name.startswith("[]"):
        if not isinstance(value, list):
            issues.error(doc.file, line, path, f"expected a list, got {_describe(value)}")
            return
        for index, item in enumerate(value):
            if item is None and type_name[2:] != "any":
                issues.error(doc.file, line_of(value, index) or line, f"{path}[{index}]", "expected a value, got null")
                continue
            walk(item, type_name[2:], f"{path}[{index}]", doc, issues, line_of(value, index) or line)
        return
    if type_name.startswith("{}"):
        if not isinstance(value, dict):
            issues.error(doc.file, line, path, f"expected a mapping, got {_describe(value)}")
            return
        for key, item in dict.items(value):
            walk(item, type_name[2:], f"{path}.{key}", doc, issues, line_of(value, key) or line)
        return
    if is_model(type_name):
        _walk_model(value, type_name, path, doc, issues, line)
        return
    problem = _scalar_problem(value, type_name)
    if problem:
        issues.error(doc.file, line, path, problem)


def _walk_model(value: Any, type_name: str, path: str, doc: Document, issues: Issues, line: int) -> None:
    if not isinstance(value, dict):
        issues.error(doc.file, line, path, f"expected a mapping, got {_describe(value)}")
        return
    schema = type_schema(type_name)
    for key, item in dict.items(value):
        key_line = line_of(value, key) or line
        field_path = f"{path}.{key}" if path else str(key)
        field_type = schema.fields.get(key) if isinstance(key, str) else None
        if field_type is None:
            issues.lenient(doc.file, key_line, field_path, _unknown_field(key, schema.fields))
            continue
        walk(item, field_type, field_path, doc, issues, key_line)
        if key in schema.enums:
            _check_enum(item, schema.enums[key], field_path, doc, issues, key_line)
    for required in schema.required:
        if dict.get(value, required) is None:
            field_path = f"{path}.{required}" if path else required
            issues.error(doc.file, line, field_path, "required field is missing")


def _check_enum(value: Any, allowed: tuple[str, ...], path: str, doc: Document, issues: Issues,
                line: int) -> None:
    values = value if isinstance(value, list) else [value]
    for index, item in enumerate(values):
        if isinstance(item, str) and item not in allowed:
            item_line = line_of(value, index) if isinstance(value, list) else line
            shown = ", ".join(v for v in allowed if v) + (' or ""' if "" in allowed else "")
            issues.error(doc.file, item_line or line, path, f'unknown value "{item}" (expected {shown})')


def _unknown_field(key: Any, fields: dict[str, str]) -> str:
    suggestion = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
    if not suggestion:
        # case slips ("imagepullpolicy") are too far apart for difflib's ratio
        suggestion = [name for name in fields if name.lower() == str(key).lower()]
    if suggestion:
        return f"unknown field (did you mean {suggestion[0]}?)"
    return "unknown field"


def _scalar_problem(value: Any, type_name: str) -> str:
    if type_name == "quantity":
        try:
            parse_quantity(value)
        except QuantityError as exc:
            return str(exc)
        return ""
    if type_name == "datetime":
        ok = not isinstance(value, (list, dict, bool))
    else:
        ok = type_name not in SCALAR_WORDS or is_scalar_of(value, type_name)
    if ok:
        return ""
    wanted = "a timestamp" if type_name == "datetime" else SCALAR_WORDS.get(type_name, type_name)
    message = f"expected {wanted}, got {_describe(value)}"
    if type_name == "string" and isinstance(value, (int, float, bool)):
        message += " (quote it)"
    return message


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__

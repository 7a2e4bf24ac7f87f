"""The part of kubectl's JSONPath templates that people use: `{.a.b[0].c}`, `{.items[*].metadata.name}`,
`{.items[?(@.kind=="Pod")].metadata.name}`, `{..name}`, `{range .items[*]}...{end}` and quoted text
such as `{"\\n"}`. Text outside braces is printed as written; several results are joined by spaces
and a mapping or list is printed as JSON, as kubectl does. Pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubeplay.errors import UserError

_STEP = re.compile(
    r"""\.\.(?P<descend>[A-Za-z0-9_-]+|\*)      # ..name: every field of that name, at any depth
      | \.(?P<field>[A-Za-z0-9_-]+|\*)         # .name or .*
      | \[\s*(?P<index>-?\d+)\s*\]             # [0], [-1]
      | \[\s*(?P<slice>-?\d*:-?\d*)\s*\]       # [1:3]
      | \[\s*\*\s*\]                           # [*]
      | \[\s*'(?P<quoted>[^']*)'\s*\]          # ['a.b']
      | \[\s*\?\(\s*@(?P<filter_path>[^=!<>)]*?)\s*(?:(?P<filter_op>==|!=)\s*
            (?P<filter_value>"[^"]*"|'[^']*'|[^)\s]+)\s*)?\)\s*\]   # [?(@.a=="b")], [?(@.a)]
    """, re.VERBOSE)


def _error(template: str, message: str) -> UserError:
    return UserError(f"jsonpath {template!r}: {message}",
                     hint="write a template like {.items[*].metadata.name} or "
                          '{range .items[*]}{.metadata.name}{"\\n"}{end}')


def _parse_template(template: str) -> list[tuple[str, str]]:
    """("text", s), ("path", p), ("range", p) and ("end", "") pieces of the template."""
    pieces: list[tuple[str, str]] = []
    at = 0
    while at < len(template):
        opening = template.find("{", at)
        if opening < 0:
            pieces.append(("text", template[at:]))
            break
        if opening > at:
            pieces.append(("text", template[at:opening]))
        closing = _closing_brace(template, opening)
        if closing < 0:
            raise _error(template, f"the '{{' at column {opening + 1} is never closed")
        inner = template[opening + 1:closing].strip()
        at = closing + 1
        if inner == "end":
            pieces.append(("end", ""))
        elif inner.startswith("range "):
            pieces.append(("range", inner[len("range "):].strip()))
        elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
            pieces.append(("text", _unescape(inner[1:-1])))
        else:
            pieces.append(("path", inner))
    return pieces


def _closing_brace(template: str, opening: int) -> int:
    """The '}' closing the one at `opening` ('}' inside quotes does not count)."""
    quote = ""
    for at in range(opening + 1, len(template)):
        char = template[at]
        if quote:
            if char == quote and template[at - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "}":
            return at
    return -1


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"').replace("\\\\", "\\")


def evaluate(path: str, data: Any, template: str = "") -> list[Any]:
    """Every value `path` reaches from `data` (a path starting at `.`, `$` or `@`)."""
    template = template or path
    rest = path.strip()
    if rest.startswith(("$", "@")):
        rest = rest[1:]
    nodes = [data]
    while rest:
        step = _STEP.match(rest)
        if step is None:
            raise _error(template, f"cannot read the path from {rest!r}")
        nodes = [found for node in nodes for found in _apply(step, node, template)]
        rest = rest[step.end():]
    return nodes


def _apply(step: re.Match, node: Any, template: str) -> list[Any]:
    if step.group("descend") is not None:
        return _descend(step.group("descend"), node)
    name = step.group("field") if step.group("field") is not None else step.group("quoted")
    if name == "*" and step.group("field") is not None:
        return list(node.values()) if isinstance(node, dict) else list(node) if isinstance(node, list) else []
    if name is not None:
        return [node[name]] if isinstance(node, dict) and name in node else []
    if not isinstance(node, list):
        return []
    if step.group("index") is not None:
        index = int(step.group("index"))
        return [node[index]] if -len(node) <= index < len(node) else []
    if step.group("slice") is not None:
        start, _, stop = step.group("slice").partition(":")
        return node[int(start) if start else None:int(stop) if stop else None]
    if step.group("filter_path") is not None:
        return [item for item in node if _passes(step, item, template)]
    return list(node)  # [*]


def _descend(name: str, node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        if name == "*":
            found += list(node.values())
        elif name in node:
            found.append(node[name])
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        children = []
    for child in children:
        found += _descend(name, child)
    return found


def _passes(step: re.Match, item: Any, template: str) -> bool:
    values = evaluate(step.group("filter_path") or "", item, template)
    operator = step.group("filter_op")
    if operator is None:
        return bool(values) and values[0] not in (None, False, "")
    wanted = step.group("filter_value").strip("\"'")
    equal = bool(values) and _text(values[0]) == wanted
    return equal if operator == "==" else not equal


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render(template: str, data: Any) -> str:
    """The template filled from `data`, as `kubectl get -o jsonpath=TEMPLATE` prints it."""
    pieces = _parse_template(template)
    output: list[str] = []
    _render(pieces, 0, len(pieces), data, output, template)
    return "".join(output)


def _render(pieces: list[tuple[str, str]], start: int, stop: int, data: Any, output: list[str],
            template: str) -> None:
    at = start
    while at < stop:
        kind, value = pieces[at]
        if kind == "text":
            output.append(value)
        elif kind == "path":
            output.append(" ".join(_text(found) for found in evaluate(value, data, template)))
        elif kind == "range":
            end = _matching_end(pieces, at, stop, template)
            for item in evaluate(value, data, template):
                _render(pieces, at + 1, end, item, output, template)
            at = end
        else:
            raise _error(template, "an {end} without its {range}")
        at += 1


def _matching_end(pieces: list[tuple[str, str]], at: int, stop: int, template: str) -> int:
    depth = 0
    for index in range(at + 1, stop):
        if pieces[index][0] == "range":
            depth += 1
        elif pieces[index][0] == "end":
            if depth == 0:
                return index
            depth -= 1
    raise _error(template, "a {range} without its {end}")

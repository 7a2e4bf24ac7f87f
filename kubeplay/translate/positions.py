"""Manifest nodes that remember where they came from and which of their keys translation read.

The loader builds every mapping as a `Node` and every sequence as a `Seq`. Each remembers the
1-based line of itself and of each key or item, so messages can say `app.yaml:14: spec.x: ...`.
A `Node` also records the keys that translation read through `get`/`[]`; whatever is left unread
afterwards is reported (see `consumed.py`), so no field is dropped silently.

Validation walks nodes with the plain `dict` methods, which do not count as reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class SourceLine(int):
    """A line of another file than the document's own: a value a --patch file put there. Messages
    name that file (see issues.located), since that is where the value must be fixed."""

    file: str

    def __new__(cls, line: int, file: str) -> SourceLine:
        made = super().__new__(cls, line)
        made.file = file
        return made


class Node(dict):
    """A YAML mapping with key lines and read tracking."""

    line: int
    key_lines: dict[Any, int]
    read: set[Any]

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines = {}
        self.read = set()

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)

    # Reading a key marks it consumed.
    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return dict.get(self, key, default)

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return dict.__getitem__(self, key)

    # Taking the whole mapping (labels, data, raw copies) consumes every key.
    def items(self) -> Any:
        self.read.update(dict.keys(self))
        return dict.items(self)

    def values(self) -> Any:
        self.read.update(dict.keys(self))
        return dict.values(self)

    def keys(self) -> Any:
        self.read.update(dict.keys(self))
        return dict.keys(self)

    def __iter__(self) -> Iterator[Any]:
        self.read.update(dict.keys(self))
        return dict.__iter__(self)


class Seq(list):
    """A YAML sequence with item lines."""

    line: int
    item_lines: list[int]

    def __init__(self, *args: Any, line: int = 0) -> None:
        super().__init__(*args)
        self.line = line
        self.item_lines = []

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def line_of(container: Any, key: Any) -> int:
    """The line of `key` inside a Node or Seq; 0 when unknown (plain data)."""
    if isinstance(container, (Node, Seq)):
        return container.line_of(key)
    return 0


def plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists, consuming everything it copies (for raw fields)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def mark_read(value: Any) -> None:
    """Consume a whole subtree without copying it."""
    plain(value)


def snapshot(value: Any) -> Any:
    """A deep plain copy that does not count as reading (for hashing, and raw kept for generate)."""
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in dict.items(value)}
    if isinstance(value, list):
        return [snapshot(item) for item in value]
    return value

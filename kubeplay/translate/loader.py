"""Reading manifests: files, directories, stdin; multi-document YAML and JSON; `kind: List`.

Every mapping and sequence comes back as a positioned `Node`/`Seq` so later messages can name
`file:line`. Syntax errors name the file and line too.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from kubeplay.errors import ManifestError
from kubeplay.translate.positions import Node, Seq

STDIN = "-"
STDIN_NAME = "<stdin>"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Document:
    """One Kubernetes object from a manifest; `index` counts documents from 1 within the file."""

    file: str
    index: int
    line: int
    kind: str
    api_version: str
    body: Node
    item: int | None = None  # position inside a `kind: List`, from 1
    base_dir: str = ""  # where relative hostPaths resolve: the manifest's directory

    @property
    def where(self) -> str:
        """Human words for this document, as in "document 3 of app.yaml"."""
        words = f"document {self.index} of {self.file}"
        if self.item is not None:
            words = f"item {self.item} of {words}"
        return words


class PositionLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings and sequences remember their lines (1-based)."""


# The same constructors over libyaml's parser, when PyYAML was built with it: a few times faster on
# big manifests. Its error messages are worded differently, so a text it refuses is parsed again
# by PositionLoader, whose verdict and message stand.
FastPositionLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):
    class FastPositionLoader(yaml.CSafeLoader):  # type: ignore[no-redef]
        """PositionLoader's constructors on libyaml's parser."""


def _construct_mapping(loader: PositionLoader, node: yaml.MappingNode) -> Any:
    result = Node(line=node.start_mark.line + 1)
    yield result
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found an unhashable key", key_node.start_mark) from exc
        dict.__setitem__(result, key, loader.construct_object(value_node, deep=True))
        result.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: PositionLoader, node: yaml.SequenceNode) -> Any:
    result = Seq(line=node.start_mark.line + 1)
    yield result
    for item_node in node.value:
        result.append(loader.construct_object(item_node, deep=True))
        result.item_lines.append(item_node.start_mark.line + 1)


for _loader in (PositionLoader, FastPositionLoader):
    if _loader is not None:
        _loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
        _loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load(paths: list[str], stdin: IO[str] | None = None) -> list[Document]:
    """Every document of every path, in order; directories contribute their manifests, sorted."""
    documents: list[Document] = []
    for path in paths:
        for name, text, base_dir in _sources(path, stdin):
            documents.extend(parse(text, name, base_dir))
    return documents


def _sources(path: str, stdin: IO[str] | None) -> list[tuple[str, str, str]]:
    if path == STDIN:
        stream = stdin if stdin is not None else sys.stdin
        return [(STDIN_NAME, stream.read(), os.getcwd())]
    target = Path(path)
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        if not files:
            raise ManifestError(f"{path}: no *.yaml, *.yml or *.json files in this directory",
                                hint="point at a manifest file or a directory that holds some")
        return [_read(str(file)) for file in files]
    return [_read(path)]


def _read(path: str) -> tuple[str, str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: no such file", hint="check the path of the manifest") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read: {exc}",
                            hint="pass a readable UTF-8 YAML or JSON file") from exc
    return path, text, str(Path(path).resolve().parent)


def parse(text: str, name: str, base_dir: str = "") -> list[Document]:
    """The documents of one manifest text; `name` is what messages call the file."""
    bodies = _parse_yaml(text, name)
    documents: list[Document] = []
    for index, body in enumerate(bodies, start=1):
        if body is None:
            continue  # an empty document between `---` separators
        if not isinstance(body, Node):
            line = body.line if isinstance(body, Seq) else 1
            raise ManifestError(f"{name}:{line}: document {index} is not a mapping",
                                hint="each document must be a Kubernetes object with kind and apiVersion")
        documents.extend(_documents_of(body, name, index, base_dir))
    return documents


def _parse_yaml(text: str, name: str) -> list[Any]:
    # libyaml accepts some characters that PyYAML's reader refuses: such text takes the slow path
    if FastPositionLoader is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            return list(yaml.load_all(text, Loader=FastPositionLoader))  # noqa: S506 - CSafeLoader subclass
        except yaml.YAMLError:
            pass  # PositionLoader decides, with its own words
    try:
        return list(yaml.load_all(text, Loader=PositionLoader))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        if text.lstrip().startswith(("{", "[")):
            return [_from_json(text, name)]
        raise ManifestError(f"{name}:{line}: invalid YAML: {exc.problem or exc}",
                            hint="fix the syntax at that line (indentation, quoting, a missing colon)") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"{name}: invalid YAML: {exc}", hint="fix the manifest's syntax") from exc


def _from_json(text: str, name: str) -> Any:
    """JSON that YAML refused (tabs, say): no per-key lines, but still a manifest."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{name}:{exc.lineno}: invalid JSON: {exc.msg}",
                            hint="fix the JSON syntax at that line") from exc
    return _positioned(data, 1)


def _positioned(value: Any, line: int) -> Any:
    if isinstance(value, dict):
        node = Node(line=line)
        for key, item in value.items():
            dict.__setitem__(node, key, _positioned(item, line))
        return node
    if isinstance(value, list):
        return Seq([_positioned(item, line) for item in value], line=line)
    return value


def _documents_of(body: Node, name: str, index: int, base_dir: str) -> list[Document]:
    kind = dict.get(body, "kind")
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List") and "items" in body):
        items = dict.get(body, "items") or Seq()
        if not isinstance(items, list):
            raise ManifestError(f"{name}:{body.line_of('items')}: items: expected a list",
                                hint="a List holds its objects under items:")
        found = []
        for position, item in enumerate(items, start=1):
            if not isinstance(item, Node):
                raise ManifestError(f"{name}:{items.line_of(position - 1)}: items[{position - 1}]: "
                                    "expected an object", hint="each item of a List is a Kubernetes object")
            found.append(_document(item, name, index, base_dir, position))
        return found
    return [_document(body, name, index, base_dir, None)]


def _document(body: Node, name: str, index: int, base_dir: str, item: int | None) -> Document:
    kind = dict.get(body, "kind")
    api_version = dict.get(body, "apiVersion")
    return Document(file=name, index=index, line=body.line, kind=kind if isinstance(kind, str) else "",
                    api_version=api_version if isinstance(api_version, str) else "",
                    body=body, item=item, base_dir=base_dir)

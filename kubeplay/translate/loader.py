"""Reading manifests: files, directories, stdin; multi-document YAML and JSON; `kind: List`.

Every mapping and sequence comes back as a positioned `Node`/`Seq` so later messages can name
`file:line`. Syntax errors name the file and line too.

What a manifest may cost is bounded while it is read, before anything walks it: a document of at
most 3 MiB (the API server's request limit), nesting at most MAX_DEPTH deep, and aliases that add
at most MAX_ALIAS_NODES nodes to a document (a few lines of anchors can otherwise stand for
billions of nodes) and never hold themselves.
"""

from __future__ import annotations

import json
import os
import re
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

MAX_DOCUMENT_BYTES = 3 * 1024 * 1024
MAX_DEPTH = 100  # Kubernetes objects nest some 15 levels; this leaves room and bounds every walk
MAX_ALIAS_NODES = 100_000
LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"  # libyaml's words for its own bound
LIMITS_HINT = "a manifest is bounded as the Kubernetes API server bounds a request; split or simplify it"


class InputLimitError(Exception):
    """A manifest goes past one of the bounds above; `line` is 1-based, 0 when unknown."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


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


class BoundedConstruction:
    """Constructor side of both loaders: a document's size, depth and alias expansion are checked
    before it is built, and building counts its depth (the constructors below recurse)."""

    nesting = 0
    may_hold_aliases = True  # False when the text has no "&" or no "*": no alias is possible

    def construct_document(self, node: yaml.Node) -> Any:
        size = node.end_mark.index - node.start_mark.index
        if size > MAX_DOCUMENT_BYTES:
            raise InputLimitError(node.start_mark.line + 1,
                                  f"the document is larger than {MAX_DOCUMENT_BYTES // 2**20} MiB")
        if self.may_hold_aliases:
            check_aliases(node)
        return super().construct_document(node)  # type: ignore[misc]

    def deeper(self, node: yaml.Node) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise InputLimitError(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")


class PositionLoader(BoundedConstruction, yaml.SafeLoader):
    """A SafeLoader whose mappings and sequences remember their lines (1-based)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # PyYAML's composer recurses once per level: bounded here, before Python's own limit
        self.nesting += 1
        try:
            if self.nesting > MAX_DEPTH:
                raise InputLimitError(self.peek_event().start_mark.line + 1,
                                      f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.nesting -= 1


# The same constructors over libyaml's parser, when PyYAML was built with it: a few times faster on
# big manifests. Its error messages are worded differently, so a text it refuses is parsed again
# by PositionLoader, whose verdict and message stand.
FastPositionLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):
    class FastPositionLoader(BoundedConstruction, yaml.CSafeLoader):  # type: ignore[no-redef]
        """PositionLoader's constructors on libyaml's parser."""


def check_aliases(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases hold themselves, nest past MAX_DEPTH or expand past
    MAX_ALIAS_NODES nodes. One pass over the distinct nodes, without recursion."""
    sizes: dict[int, int] = {}  # id -> nodes once expanded
    heights: dict[int, int] = {}
    first_large: yaml.Node | None = None  # where expansion first passed the bound: named in the error
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            heights[key] = 1 + max((heights[id(child)] for child in children), default=0)
            if heights[key] > MAX_DEPTH:
                raise InputLimitError(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            if first_large is None and sizes[key] > MAX_ALIAS_NODES:
                first_large = node
            continue
        if key in sizes:
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise InputLimitError(child.start_mark.line + 1, "an alias refers to a node that holds it")
            if id(child) not in sizes:
                stack.append((child, False))
    added = sizes[id(root)] - len(sizes)
    if added > MAX_ALIAS_NODES:
        raise InputLimitError((first_large or root).start_mark.line + 1,
                              f"aliases expand the document by {added} nodes; at most {MAX_ALIAS_NODES} are allowed")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _construct_mapping(loader: PositionLoader, node: yaml.MappingNode) -> Any:
    result = Node(line=node.start_mark.line + 1)
    yield result
    loader.deeper(node)
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
    loader.nesting -= 1


def _construct_sequence(loader: PositionLoader, node: yaml.SequenceNode) -> Any:
    result = Seq(line=node.start_mark.line + 1)
    yield result
    loader.deeper(node)
    for item_node in node.value:
        result.append(loader.construct_object(item_node, deep=True))
        result.item_lines.append(item_node.start_mark.line + 1)
    loader.nesting -= 1


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


def parse_nodes(text: str, name: str) -> list[Any]:
    """The documents of a YAML text as Nodes and Seqs that know their lines, whatever they hold
    (a patch file's documents are no Kubernetes objects); empty documents left out."""
    return [body for body in _parse_yaml(text, name) if body is not None]


def _parse_yaml(text: str, name: str) -> list[Any]:
    if len(text) > MAX_DOCUMENT_BYTES // 4:  # a UTF-8 character is at most 4 bytes
        _check_document_sizes(text, name)
    may_hold_aliases = "&" in text and "*" in text
    try:
        # libyaml accepts some characters that PyYAML's reader refuses: such text takes the slow path
        if FastPositionLoader is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
            try:
                return _documents(FastPositionLoader(text), may_hold_aliases)
            except yaml.MarkedYAMLError as exc:
                if exc.problem == LIBYAML_TOO_DEEP and exc.problem_mark is not None:
                    # deeper than libyaml's own bound (1000), so far past ours: re-reading it with
                    # PyYAML's scanner would cost time quadratic in the depth
                    raise InputLimitError(exc.problem_mark.line + 1,
                                          f"nested more than {MAX_DEPTH} levels deep") from None
                # anything else: PositionLoader decides, with its own words
            except yaml.YAMLError:
                pass
        return _documents(PositionLoader(text), may_hold_aliases)
    except InputLimitError as exc:
        raise ManifestError(f"{name}:{exc.line or 1}: {exc.message}", hint=LIMITS_HINT) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        if text.lstrip().startswith(("{", "[")):
            return [_from_json(text, name)]
        raise ManifestError(f"{name}:{line}: invalid YAML: {exc.problem or exc}",
                            hint="fix the syntax at that line (indentation, quoting, a missing colon)") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"{name}: invalid YAML: {exc}", hint="fix the manifest's syntax") from exc


def _documents(loader: Any, may_hold_aliases: bool) -> list[Any]:
    """Every document of the text `loader` was made for (what yaml.load_all does, with the flag set)."""
    loader.may_hold_aliases = may_hold_aliases
    try:
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
        return documents
    finally:
        loader.dispose()


# after a line break rather than ^ with MULTILINE: re then skips to each "\n" at C speed
_DOCUMENT_MARKER = re.compile(r"\n(?:---|\.\.\.)(?=[ \t\r\n]|$)")


def _check_document_sizes(text: str, name: str) -> None:
    """Refuse a document over MAX_DOCUMENT_BYTES before it is parsed (parsing it is what costs).

    A line starting with "---" or "..." ends a document wherever it stands (inside a block scalar
    too; inside a quoted one it is an error), so the text between two such lines bounds one."""
    start, line = 0, 1
    for marker in [*_DOCUMENT_MARKER.finditer(text), None]:
        end = marker.start() if marker else len(text)
        characters = end - start  # each is 1 to 4 bytes: only in between are the bytes counted
        if characters > MAX_DOCUMENT_BYTES or (
                characters > MAX_DOCUMENT_BYTES // 4
                and len(text[start:end].encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES):
            raise ManifestError(f"{name}:{line}: the document is larger than {MAX_DOCUMENT_BYTES // 2**20} MiB",
                                hint=LIMITS_HINT)
        if marker:
            line += text.count("\n", start, marker.end())
            start = marker.end()


def _from_json(text: str, name: str) -> Any:
    """JSON that YAML refused (tabs, say): no per-key lines, but still a manifest."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{name}:{exc.lineno}: invalid JSON: {exc.msg}",
                            hint="fix the JSON syntax at that line") from exc
    except RecursionError:
        raise ManifestError(f"{name}:1: nested more than {MAX_DEPTH} levels deep", hint=LIMITS_HINT) from None
    if _depth_past(data, MAX_DEPTH):
        raise ManifestError(f"{name}:1: nested more than {MAX_DEPTH} levels deep", hint=LIMITS_HINT)
    return _positioned(data, 1)


def _positioned(value: Any, line: int) -> Any:
    """Plain JSON data as the Nodes and Seqs the translator reads, every key and item on `line`."""
    if isinstance(value, dict):
        node = Node(line=line)
        for key, item in value.items():
            dict.__setitem__(node, key, _positioned(item, line))
            node.key_lines[key] = line
        return node
    if isinstance(value, list):
        seq = Seq(line=line)
        for item in value:
            seq.append(_positioned(item, line))
            seq.item_lines.append(line)
        return seq
    return value


def _depth_past(value: Any, limit: int) -> bool:
    level: list[Any] = [value]
    for _ in range(limit):
        level = [item for container in level if isinstance(container, (dict, list))
                 for item in (container.values() if isinstance(container, dict) else container)]
        if not level:
            return False
    return any(isinstance(item, (dict, list)) for item in level)


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

"""The manifest loader's libyaml path gives exactly what the pure-Python one gives: values, types,
every line of every mapping, key and item; refused text gets the pure-Python parser's message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubeplay.errors import ManifestError
from kubeplay.translate import loader
from kubeplay.translate.loader import parse
from kubeplay.translate.positions import Node, Seq

ROOT = Path(__file__).resolve().parent.parent.parent
BROKEN = sorted((ROOT / "tests" / "data" / "broken").glob("*"))
CORPUS = [path for path in sorted((ROOT / "manifests").rglob("*.yaml")) + sorted((ROOT / "tests" / "data").rglob("*.yaml"))
          if path not in BROKEN]

pytestmark = pytest.mark.skipif(loader.FastPositionLoader is None, reason="PyYAML is built without libyaml here")

TRICKY = """\
a: &anchor
  b: [1, 2.5, "3", yes, ~, 0o17, 0x1f, 2024-01-02]
  c: |
    literal
     text
  d: >-
    folded
    text
merged:
  <<: *anchor
  e: {f: g, h: [i, {j: k}]}
empty:
list:
- - nested
  - 'quoted: value'
- ? complex
  : key
---
---
second: document
"""


def positions(value):
    """Every value with its type and every line the loader recorded, as plain data to compare."""
    if isinstance(value, Node):
        return ("map", value.line, sorted(((repr(k), value.key_lines.get(k), positions(v)) for k, v in dict.items(value)),
                                          key=str))
    if isinstance(value, Seq):
        return ("seq", value.line, list(value.item_lines), [positions(v) for v in value])
    return (type(value).__name__, value)


def both(text: str):
    slow = list(yaml.load_all(text, Loader=loader.PositionLoader))  # noqa: S506
    fast = list(yaml.load_all(text, Loader=loader.FastPositionLoader))  # noqa: S506
    return [positions(d) for d in slow], [positions(d) for d in fast]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_corpus_loads_the_same_with_libyaml(path):
    slow, fast = both(path.read_text(encoding="utf-8"))
    assert slow and fast == slow


def test_anchors_merges_block_scalars_and_empty_documents_load_the_same():
    slow, fast = both(TRICKY)
    assert fast == slow and len(slow) == 3


def outcome(text: str, fast: bool):
    """What parse makes of text: the documents with all their lines, or the refusal's message."""
    saved = loader.FastPositionLoader
    if not fast:
        loader.FastPositionLoader = None
    try:
        return "parsed", [(d.kind, d.line, positions(d.body)) for d in parse(text, "bad.yaml")]
    except ManifestError as exc:
        return "refused", exc.message
    finally:
        loader.FastPositionLoader = saved


@pytest.mark.parametrize("text", [
    "a: b\n  c: d\n",                 # bad indentation
    "a: [1, 2\n",                     # unclosed flow sequence
    "kind: Pod\nmetadata: {name: x\n",
    "a: 'unterminated\n",
    "key: value\n\tbad: tab\n",
])
def test_refused_text_gets_the_pure_python_message(text):
    verdict, message = outcome(text, fast=True)
    assert verdict == "refused" and message.startswith("bad.yaml:")
    assert (verdict, message) == outcome(text, fast=False)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_corpus_files_parse_or_are_refused_alike(path):
    text = path.read_text(encoding="utf-8")
    assert outcome(text, fast=True) == outcome(text, fast=False)


def test_text_with_characters_pyyaml_refuses_is_still_refused():
    with pytest.raises(ManifestError, match="invalid YAML"):
        parse("kind: Pod\nmetadata: {name: \"a\x01b\"}\n", "ctl.yaml")

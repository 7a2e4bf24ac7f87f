"""Generated documents as block-style YAML, written by PyYAML.

Keys keep the order the documents were built in (metadata before spec, as kubectl shows them).
Text of several lines is written as a literal block, which reads as the script or file it is;
PyYAML falls back to a quoted string where a block cannot hold the text exactly. Lines are never
folded, so a long command stays on one line. The safe dumper quotes every string a YAML 1.1
reader (go-yaml, behind kubectl) would take for a boolean, a number or null.
"""

from __future__ import annotations

import yaml

try:
    from yaml import CSafeDumper as BaseDumper  # libyaml's emitter, where PyYAML was built with it
except ImportError:
    from yaml import SafeDumper as BaseDumper

NEVER_FOLD = 1 << 30  # PyYAML folds lines longer than its width


class GeneratedDumper(BaseDumper):
    """The safe dumper, with multi-line text as literal blocks."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


GeneratedDumper.add_representer(str, _text)


def dump_documents(documents: list) -> str:
    """The documents one after another, `---` opening each but the first."""
    return yaml.dump_all(documents, Dumper=GeneratedDumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=NEVER_FOLD)

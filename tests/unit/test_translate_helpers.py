"""Small builders shared by the translate tests (no tests here): a pod manifest, and a run."""

from __future__ import annotations

import random
import textwrap

from kubeplay.translate.context import TranslateOptions, TranslateResult

from kubeplay.translate.loader import parse

from kubeplay.translate.run import translate


def pod_yaml(containers: str, extra_spec: str = "", name: str = "p") -> str:
    """A Pod manifest; `containers` is YAML for the containers list, indented as given."""
    spec = textwrap.indent(textwrap.dedent(extra_spec), "  ") if extra_spec else ""
    body = textwrap.indent(textwrap.dedent(containers), "  ")
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}  containers:\n{body}"


def run(text: str, strict: bool = False, base_dir: str = "/manifests") -> TranslateResult:
    docs = parse(text, "app.yaml", base_dir)
    return translate(docs, TranslateOptions(strict=strict, node_name="node1"), rng=random.Random(7))

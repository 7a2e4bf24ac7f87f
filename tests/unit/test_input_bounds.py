"""Bounded input: each hostile manifest is refused while it is read or translated, with file:line,
in work linear in its size; manifests with no pods translate to nothing, and say why."""

from __future__ import annotations

import random

import pytest

from kubeplay.errors import ManifestError
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import parse
from kubeplay.translate.run import translate
from kubeplay.translate.execsize import MAX_ARG_STRLEN, arg_max
from kubeplay.translate.loader import MAX_ALIAS_NODES, MAX_DEPTH, MAX_DOCUMENT_BYTES


def run(text: str, **options):
    return translate(parse(text, "app.yaml", "/m"), TranslateOptions(node_name="n", **options), rng=random.Random(1))


def deployment(replicas: object = 1, annotations: str = "", template_extra: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
{annotations}spec:
  replicas: {replicas}
  selector: {{matchLabels: {{a: b}}}}
  template:
    metadata: {{labels: {{a: b}}}}
    spec:
      containers:
      - name: c
        image: busybox
{template_extra}"""


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["        a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"        a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return deployment(template_extra="        args: []\n        x-bomb:\n" + "\n".join(lines) + "\n")


def test_an_alias_bomb_is_refused_at_the_line_where_it_explodes():
    with pytest.raises(ManifestError, match=rf"app.yaml:\d+: aliases expand the document by \d+ nodes; "
                                            rf"at most {MAX_ALIAS_NODES}"):
        parse(alias_bomb(), "app.yaml")


def test_a_few_aliases_are_fine():
    text = deployment(template_extra="        resources: &r {limits: {cpu: '1'}}\n        env: []\n")
    assert len(parse(text.replace("env: []", "securityContext: {}"), "app.yaml")) == 1


def test_an_alias_that_holds_itself_is_refused():
    with pytest.raises(ManifestError, match=r"app.yaml:\d+: (an alias refers to a node that holds it|invalid YAML)"):
        parse("apiVersion: v1\nkind: Pod\nmetadata: &m {name: p, x: *m}\n", "app.yaml")


@pytest.mark.parametrize("text", [
    "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "a: " + "{b: " * 5_000 + "1" + "}" * 5_000 + "\n",
    "".join(" " * i + "- \n" for i in range(0, 300)),
    "[" * 200 + "]" * 200,  # JSON too
])
def test_deep_nesting_is_refused_not_a_recursion_error(text):
    with pytest.raises(ManifestError, match=rf"app.yaml:\d+: nested more than {MAX_DEPTH} levels deep"):
        parse(text, "app.yaml")


def test_a_document_over_the_api_servers_request_size_is_refused_before_it_is_parsed():
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + "".join(
        f"  k{i}: {'v' * 60}\n" for i in range(MAX_DOCUMENT_BYTES // 60))
    small = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {k: v}\n"
    with pytest.raises(ManifestError, match=r"app.yaml:5: the document is larger than 3 MiB"):
        parse(small + "---\n" + big, "app.yaml")


@pytest.mark.parametrize("replicas, message", [
    (1_000_000_000, r"app.yaml:6: spec.replicas: 1000000000 pods: kubeplay makes at most 1000 pods"),
    (-1, r"app.yaml:6: spec.replicas: -1: must be greater than or equal to 0"),
])
def test_replicas_are_bounded(replicas, message):
    with pytest.raises(ManifestError, match=message):
        run(deployment(replicas))


def test_the_replica_limit_is_an_option():
    assert len(run(deployment(5), max_replicas=5).pods) == 5
    with pytest.raises(ManifestError, match="at most 4 pods"):
        run(deployment(5), max_replicas=4)


def test_annotations_are_bounded_as_the_api_server_bounds_them():
    annotations = f"  annotations:\n    big: \"{'y' * (256 * 1024)}\"\n"
    with pytest.raises(ManifestError, match=r"app.yaml:5: metadata.annotations: 262147 bytes of annotations"):
        run(deployment(annotations=annotations))


def test_env_is_bounded_by_what_execve_accepts():
    one_value = f"        env: [{{name: A, value: \"{'x' * MAX_ARG_STRLEN}\"}}]\n"
    with pytest.raises(ManifestError, match=r"app.yaml:14: spec.template.spec.containers\[0\].env\[0\]: "
                                            r"variable A: \d+ bytes: one argument or variable may hold at most"):
        run(deployment(template_extra=one_value))
    count = arg_max() // 20_000 + 2
    many = "        env:\n" + "".join(f"        - {{name: V{i}, value: \"{'x' * 20_000}\"}}\n" for i in range(count))
    with pytest.raises(ManifestError, match=r"bytes of environment and arguments: execve accepts at most"):
        run(deployment(template_extra=many))
    long_arg = f"        args: [\"{'x' * MAX_ARG_STRLEN}\"]\n"
    with pytest.raises(ManifestError, match=r"spec.template.spec.containers\[0\].args\[0\]: \d+ bytes"):
        run(deployment(template_extra=long_arg))


def test_env_expansion_is_linear_in_the_number_of_entries():
    """Each entry refers to the one before: built once, not per entry (a bound against hangs)."""
    entries = "".join(f"        - {{name: V{i}, value: \"$(V{i - 1 if i else 0})x\"}}\n" for i in range(3000))
    import time

    started = time.monotonic()
    with pytest.raises(ManifestError, match="execve accepts at most"):
        run(deployment(template_extra="        env:\n" + entries))  # the chain grows past ARG_MAX
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("text, idle", [
    ("", []),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n", []),
    (deployment(0), [("Deployment", "web", "default", "replicas: 0")]),
])
def test_manifests_without_pods_translate_to_none(text, idle):
    result = run(text)
    assert result.pods == [] and result.idle_workloads == idle
    assert result.warnings == []  # the template of replicas: 0 is read all the same


def test_unknown_kinds_are_a_warning_with_file_and_line_and_an_error_when_strict():
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    assert run(text).warnings == ["app.yaml:1: kubeplay does not support kind Widget (document 1 of app.yaml); "
                                  "it was skipped"]
    with pytest.raises(ManifestError, match="app.yaml:1: kubeplay does not support kind Widget"):
        run(text, strict=True)

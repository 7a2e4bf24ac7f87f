"""Loading manifests: positions, multi-document files, JSON, List, directories, stdin, syntax errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kubeplay.errors import ManifestError
from kubeplay.translate.loader import load, parse

DATA = Path(__file__).resolve().parent.parent / "data" / "manifests"

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: a
    image: busybox
  - name: b
    image: busybox
    imagePullPolicy: Never
"""


def test_keys_and_items_keep_their_lines():
    [doc] = parse(POD, "app.yaml")
    assert (doc.kind, doc.api_version, doc.index, doc.line) == ("Pod", "v1", 1, 1)
    containers = doc.body["spec"]["containers"]
    assert containers.item_lines == [7, 9]
    assert containers[1].line_of("imagePullPolicy") == 11
    assert doc.body.line_of("spec") == 5


def test_multi_document_skips_empty_documents_but_counts_them():
    text = POD + "---\n---\n" + POD.replace("web", "other")
    docs = parse(text, "two.yaml")
    assert [(d.index, d.line) for d in docs] == [(1, 1), (3, 14)]
    assert docs[1].where == "document 3 of two.yaml"


def test_list_is_flattened_with_item_positions():
    text = "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  apiVersion: v1\n- kind: Secret\n  apiVersion: v1\n"
    docs = parse(text, "list.yaml")
    assert [(d.kind, d.item, d.line) for d in docs] == [("ConfigMap", 1, 4), ("Secret", 2, 6)]
    assert docs[1].where == "item 2 of document 1 of list.yaml"


def test_json_documents_parse_with_lines():
    text = '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "j"}\n}\n'
    [doc] = parse(text, "pod.json")
    assert doc.kind == "Pod"
    assert doc.body.line_of("metadata") == 4


def test_json_with_tabs_falls_back_to_the_json_parser():
    [doc] = parse('{"kind":\t"Pod", "apiVersion": "v1"}', "tabs.json")
    assert doc.kind == "Pod"


@pytest.mark.parametrize("text, line", [
    ("kind: Pod\nmetadata:\n  name: a\n   bad: x\n", 4),
    ("kind: Pod\nspec: [a, b\n", 3),
    ("a: b\n  c: d: e\n", 2),
])
def test_yaml_syntax_errors_name_file_and_line(text, line):
    with pytest.raises(ManifestError) as caught:
        parse(text, "broken.yaml")
    assert caught.value.message.startswith(f"broken.yaml:{line}: invalid YAML")
    assert caught.value.hint


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(ManifestError, match=r"^x.yaml:1: document 1 is not a mapping"):
        parse("- a\n- b\n", "x.yaml")


def test_stdin_is_read_when_the_path_is_dash():
    docs = load(["-"], stdin=io.StringIO(POD))
    assert docs[0].file == "<stdin>"
    assert docs[0].body["metadata"]["name"] == "web"


def test_directory_contributes_its_manifests_sorted(tmp_path):
    (tmp_path / "b.yml").write_text(POD.replace("web", "bee"))
    (tmp_path / "a.yaml").write_text(POD.replace("web", "ay"))
    (tmp_path / "c.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cee"}}')
    (tmp_path / "notes.txt").write_text("not a manifest")
    docs = load([str(tmp_path)])
    assert [d.body["metadata"]["name"] for d in docs] == ["ay", "bee", "cee"]
    assert docs[0].base_dir == str(tmp_path.resolve())


def test_an_empty_directory_and_a_missing_file_are_manifest_errors(tmp_path):
    with pytest.raises(ManifestError, match="no \\*.yaml"):
        load([str(tmp_path)])
    with pytest.raises(ManifestError, match="no such file"):
        load([str(tmp_path / "missing.yaml")])


def test_corpus_files_all_load():
    docs = load([str(DATA)])
    assert {d.kind for d in docs} >= {"Pod", "Deployment", "ConfigMap"}


def test_json_that_no_yaml_reader_takes_is_read_as_json_with_lines():
    # YAML caps an implicit key at 1024 characters; JSON does not
    key = "example.com/" + "a" * 1100
    [doc] = parse('{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "annotations": {"%s": "v"}}}' % key,
                  "long.json")
    assert doc.kind == "Pod"
    assert doc.body["metadata"]["annotations"][key] == "v"
    assert doc.body.line_of("metadata") == 1

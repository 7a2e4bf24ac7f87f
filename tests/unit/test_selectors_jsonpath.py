"""Label selectors as `kubectl -l` parses them, and the JSONPath templates of `get -o jsonpath`."""

from __future__ import annotations

import pytest

from kubeplay.cli.jsonpath import evaluate, render
from kubeplay.errors import UserError
from kubeplay.model.selector import parse_selector

LABELS = {"app": "web", "tier": "front", "env": "dev", "empty": ""}


@pytest.mark.parametrize("text, selected", [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),  # != selects objects without the label, as in Kubernetes
    ("env in (dev,test)", True),
    ("env in (prod)", False),
    ("env notin (prod, test)", True),
    ("env notin (dev)", False),
    ("missing notin (a)", True),
    ("missing in (a)", False),
    ("tier", True),
    ("missing", False),
    ("!missing", True),
    ("!tier", False),
    ("empty=", True),
    ("app=web,tier=front,env in (dev),!legacy", True),
    ("app=web,tier=back", False),
    (" app = web , tier ", True),
    ("example.com/role!=x", True),
])
def test_selector_matches_as_kubernetes_does(text, selected):
    assert parse_selector(text).matches(LABELS) is selected


@pytest.mark.parametrize("text, column", [
    ("app=web,", 9),           # a requirement missing after the comma
    ("app in (a,b", 12),       # the values never closed
    ("app in a", 8),           # no parenthesis
    ("app=web tier=x", 9),     # two requirements without a comma
    ("=web", 1),               # no key
    ("app ~ web", 5),          # no such operator
    ("!", 2),
])
def test_a_selector_that_does_not_parse_names_the_column(text, column):
    with pytest.raises(UserError) as raised:
        parse_selector(text)
    assert f"column {column}" in raised.value.message
    assert raised.value.hint and "app=web" in raised.value.hint


DATA = {"kind": "List", "items": [
    {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
     "status": {"phase": "Running", "podIP": "10.0.0.2", "containerStatuses": [{"name": "c", "restartCount": 1}]}},
    {"metadata": {"name": "b"}, "status": {"phase": "Pending", "containerStatuses": []}},
]}


@pytest.mark.parametrize("template, printed", [
    ("{.kind}", "List"),
    ("{.items[0].metadata.name}", "a"),
    ("{.items[-1].metadata.name}", "b"),
    ("{.items[*].metadata.name}", "a b"),
    ("{.items[0:1].metadata.name}", "a"),
    ("{.items[*].status.podIP}", "10.0.0.2"),
    ("{.items[?(@.status.phase==\"Pending\")].metadata.name}", "b"),
    ("{.items[?(@.status.phase!='Pending')].metadata.name}", "a"),
    ("{.items[?(@.status.podIP)].metadata.name}", "a"),
    ("{.items[0].metadata.labels['app.kubernetes.io/name']}", "x"),
    ("{..restartCount}", "1"),
    ("{.items[0].status.containerStatuses[0]}", '{"name": "c", "restartCount": 1}'),
    ('{range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}', "a=Running\nb=Pending\n"),
    ("names: {.items[*].metadata.name}!", "names: a b!"),
    ("{.nothing.here}", ""),
])
def test_jsonpath_prints_as_kubectl(template, printed):
    assert render(template, DATA) == printed


@pytest.mark.parametrize("template", ["{.items[0", "{range .items[*]}{.a}", "{end}", "{.items[x]}"])
def test_a_broken_template_is_an_input_error(template):
    with pytest.raises(UserError) as raised:
        render(template, DATA)
    assert "jsonpath" in raised.value.message and raised.value.hint


def test_evaluate_gives_the_values_themselves():
    assert evaluate(".items[*].status.containerStatuses[*].restartCount", DATA) == [1]

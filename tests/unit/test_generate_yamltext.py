"""generate's YAML: whatever it writes, a YAML reader gives back exactly, in the order it was built."""

from __future__ import annotations

import random

import pytest
import yaml

from kubeplay.generate.yamltext import dump_documents

TRICKY = ["", " ", "yes", "No", "ON", "off", "y", "N", "true", "False", "null", "Null", "~", "1", "-1", "+1",
          "0x1F", "0o17", "017", "1_000", "1e3", "1.5", ".5", "-.5", ".inf", "-.inf", ".NaN", "1:30",
          "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", "---", "...", "--- a", "- a", "-", "-c",
          "--flag=1", "a: b", "a:b", "a:", "a #b", "a#b", "#a", "?", "? a", ":a", "&a", "*a", "!a", "|", ">",
          "'a'", '"a"', "%a", "@a", "`a", "{a}", "[a]", "a, b", "a\tb", "\ta", "a ", " a", "\n", "a\n",
          "a\n\n", "a\n\n\n", "\na", "a\nb", "a\n b", " a\nb", "a \nb", "a\r\nb", "a\x85b", "a\u2028b",
          "\ufeffa", "a\x00b", "é", "😀", "a\x7fb", "\\", "a\\nb", "C:\\dir", "echo 'hi'; exit 3\n"]
POOL = list("ab -:#\n\t'\"\\01.?|>~{[,&*!%@`\r") + ["\x85", "\u2028", "é", "😀", "\ufeff", "\x00", "\x1b"]


def _round_trip(document: object) -> object:
    return next(yaml.safe_load_all(dump_documents([document])))


def _shapes(text: str) -> list[object]:
    """The places a string can stand in a generated document."""
    return [{"key": text}, {"list": [text]}, {"deep": {"list": [{"name": text, "args": [text]}]}},
            {text: "value"}, {"nested": [[text, text]]}, [text]]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_come_back_the_same(text: str) -> None:
    for document in _shapes(text):
        assert _round_trip(document) == document


def test_random_strings_come_back_the_same() -> None:
    chooser = random.Random(20261128)
    for _ in range(1500):
        text = "".join(chooser.choice(POOL) for _ in range(chooser.randint(1, 10)))
        for document in _shapes(text):
            assert _round_trip(document) == document, repr(text)


def test_other_scalars_and_empty_collections() -> None:
    document = {"int": 80, "negative": -1, "float": 0.5, "big": 1e20, "inf": float("inf"), "yes": True,
                "no": False, "none": None, "empty": {}, "nothing": [], "items": [{}, [], None, 0]}
    assert _round_trip(document) == document


def test_readable_where_yaml_allows() -> None:
    text = dump_documents([{"metadata": {"name": "web", "labels": {"app": "web"}},
                            "spec": {"containers": [{"command": ["sh", "-c", "echo hi\nexit 3\n"], "port": "80"}]}},
                           {"kind": "Service"}])
    assert text == ("metadata:\n  name: web\n  labels:\n    app: web\nspec:\n  containers:\n"
                    "  - command:\n    - sh\n    - -c\n    - |\n      echo hi\n      exit 3\n    port: '80'\n"
                    "---\nkind: Service\n")


def test_multi_line_text_with_kept_ending() -> None:
    document = {"script": "a\n\n  b\n\n\n"}
    text = dump_documents([document])
    assert text.startswith("script: |+\n")
    assert _round_trip(document) == document


def test_long_lines_are_not_folded() -> None:
    command = "echo " + "word " * 100
    text = dump_documents([{"args": [command.strip()]}])
    assert text.count("\n") == 2 and _round_trip({"args": [command.strip()]}) == {"args": [command.strip()]}


def test_text_a_block_cannot_hold_is_quoted_and_still_exact() -> None:
    document = {"script": "trailing blanks \nsecond"}
    assert dump_documents([document]) == 'script: "trailing blanks \\nsecond"\n'
    assert _round_trip(document) == document

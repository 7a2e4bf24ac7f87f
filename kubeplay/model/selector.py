"""Label selectors as `kubectl -l` takes them: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
`k` and `!k`, joined by commas; all requirements must hold. Pure: parse once, match many.

A selector that does not parse is a UserError naming the 1-based column where it went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeplay.errors import UserError

# a label key (an optional DNS prefix and a name) or value; checked loosely: matching is exact anyway
_WORD = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_./]*")
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # != and notin, as Kubernetes has them


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)


EVERYTHING = Selector()


class _Reader:
    """The selector text and where parsing is, with errors that name the column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, wanted: str) -> UserError:
        found = repr(self.text[self.at]) if self.at < len(self.text) else "the end"
        return UserError(f"selector {self.text!r}: expected {wanted} at column {self.at + 1}, found {found}",
                         hint="write requirements like app=web,tier!=db,env in (dev,test),!legacy")

    def skip_space(self) -> None:
        self.at = _SPACE.match(self.text, self.at).end()

    def word(self, what: str) -> str:
        self.skip_space()
        found = _WORD.match(self.text, self.at)
        if found is None:
            raise self.fail(what)
        self.at = found.end()
        return found.group()

    def value(self) -> str:
        """A value, which may be empty (`k=` selects an empty label value)."""
        self.skip_space()
        found = _WORD.match(self.text, self.at)
        if found is None:
            return ""
        self.at = found.end()
        return found.group()

    def take(self, token: str) -> bool:
        self.skip_space()
        if self.text.startswith(token, self.at):
            self.at += len(token)
            return True
        return False

    def keyword(self, word: str) -> bool:
        """`in`/`notin` as a whole word after a key."""
        self.skip_space()
        end = self.at + len(word)
        if self.text.startswith(word, self.at) and (end == len(self.text) or not self.text[end].isalnum()):
            self.at = end
            return True
        return False

    def done(self) -> bool:
        self.skip_space()
        return self.at >= len(self.text)


def parse_selector(text: str | None) -> Selector:
    if text is None or not text.strip():
        return EVERYTHING
    reader = _Reader(text)
    requirements = [_requirement(reader)]
    while not reader.done():
        if not reader.take(","):
            raise reader.fail("',' between requirements")
        requirements.append(_requirement(reader))
    return Selector(tuple(requirements))


def _requirement(reader: _Reader) -> Requirement:
    if reader.take("!"):
        if reader.take("="):
            raise reader.fail("a label key before '!='")
        return Requirement(reader.word("a label key after '!'"), "!")
    key = reader.word("a label key")
    if reader.take("!="):
        return Requirement(key, "!=", (reader.value(),))
    if reader.take("==") or reader.take("="):
        return Requirement(key, "=", (reader.value(),))
    for operator in ("notin", "in"):
        if reader.keyword(operator):
            return Requirement(key, operator, _value_set(reader))
    reader.skip_space()
    if reader.done() or reader.text[reader.at] == ",":
        return Requirement(key, "exists")
    raise reader.fail("'=', '!=', 'in', 'notin' or ','")


def _value_set(reader: _Reader) -> tuple[str, ...]:
    if not reader.take("("):
        raise reader.fail("'(' opening the values")
    values = [reader.value()]
    while reader.take(","):
        values.append(reader.value())
    if not reader.take(")"):
        raise reader.fail("',' or ')' in the values")
    return tuple(values)

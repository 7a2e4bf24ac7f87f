"""Label selectors as `kubectl -l` takes them: `key=value`, `key==value`, `key!=value`,
`key in (a,b)`, `key notin (a,b)`, `key` (exists) and `!key` (absent), joined by commas. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeplay.errors import UserError

# a label key (an optional DNS prefix and a name) or value; values may also be empty
_WORD = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.\-/]*[A-Za-z0-9])?")
_HINT = "write requirements like app=web,tier!=db,env in (dev,test),!legacy"


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
        return not present or labels[self.key] not in self.values  # "!=" and "notin"


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)


def parse_selector(text: str) -> Selector:
    """The selector written in `text`; an error names the position (1-based) where it stops making sense."""
    parser = _Parser(text)
    requirements = []
    parser.skip_spaces()
    while not parser.at_end():
        requirements.append(parser.requirement())
        parser.skip_spaces()
        if not parser.at_end():
            parser.expect(",")
            parser.skip_spaces()
            if parser.at_end():
                parser.fail("a requirement after ','")
    return Selector(tuple(requirements))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def skip_spaces(self) -> None:
        while not self.at_end() and self.text[self.position] == " ":
            self.position += 1

    def fail(self, wanted: str) -> None:
        found = repr(self.text[self.position]) if not self.at_end() else "the end"
        raise UserError(f"selector {self.text!r}: expected {wanted} at position {self.position + 1}, found {found}",
                        hint=_HINT)

    def expect(self, literal: str) -> None:
        if not self.text.startswith(literal, self.position):
            self.fail(repr(literal))
        self.position += len(literal)

    def word(self, what: str, optional: bool = False) -> str:
        match = _WORD.match(self.text, self.position)
        if match is None:
            if optional:
                return ""
            self.fail(what)
        self.position = match.end()
        return match.group()

    def requirement(self) -> Requirement:
        if self.text.startswith("!", self.position):
            self.position += 1
            self.skip_spaces()
            return Requirement(self.word("a label key"), "!")
        key = self.word("a label key")
        self.skip_spaces()
        for operator in ("==", "!=", "="):
            if self.text.startswith(operator, self.position):
                self.position += len(operator)
                self.skip_spaces()
                return Requirement(key, "!=" if operator == "!=" else "=", (self.word("a value", optional=True),))
        for operator in ("notin", "in"):
            if re.match(operator + r"\s*\(", self.text[self.position:]):
                self.position += len(operator)
                self.skip_spaces()
                return Requirement(key, operator, self.values())
        if self.at_end() or self.text[self.position] == ",":
            return Requirement(key, "exists")
        self.fail("'=', '!=', 'in', 'notin' or ','")
        raise AssertionError  # fail raised

    def values(self) -> tuple[str, ...]:
        self.expect("(")
        found = []
        while True:
            self.skip_spaces()
            found.append(self.word("a value", optional=True))
            self.skip_spaces()
            if self.text.startswith(")", self.position):
                self.position += 1
                return tuple(found)
            self.expect(",")

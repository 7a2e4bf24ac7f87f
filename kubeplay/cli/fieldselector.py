"""`get --field-selector`: objects whose fields equal (=, ==) or differ from (!=) values, comma-joined,
as kubectl sends it to the API server; a field is a dotted path of the object (status.phase,
metadata.name, spec.nodeName...)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeplay.errors import UserError

REQUIREMENT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*(==|!=|=)\s*([^,]*?)\s*$")
HINT = "write e.g. --field-selector status.phase=Running,metadata.name!=web"


@dataclass(frozen=True)
class FieldRequirement:
    path: tuple[str, ...]
    equal: bool
    value: str

    def matches(self, obj: dict) -> bool:
        node: object = obj
        for key in self.path:
            node = node.get(key) if isinstance(node, dict) else None
        text = "" if node is None else ("true" if node is True else "false" if node is False else str(node))
        return (text == self.value) is self.equal


def parse_field_selector(text: str) -> list[FieldRequirement]:
    requirements = []
    for part in text.split(","):
        found = REQUIREMENT.match(part)
        if found is None:
            raise UserError(f"field selector {text!r}: {part.strip()!r} is not FIELD=VALUE or FIELD!=VALUE", hint=HINT)
        path, operator, value = found.groups()
        requirements.append(FieldRequirement(tuple(path.split(".")), operator != "!=", value))
    return requirements


def fields_match(requirements: list[FieldRequirement], obj: dict) -> bool:
    return all(requirement.matches(obj) for requirement in requirements)

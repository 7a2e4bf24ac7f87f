"""Nothing a manifest asks for is dropped silently (issue: probes were translated, stored and
generated back, and never run).

Every field of the plan that translation fills is either read by the engine (kubeplay outside
translate/, generate/, model/ and cli/), or listed here with its reason: kept only so that
`generate` gives the manifest back, or named in a warning at play (then a test below shows the
warning). A new plan field that nothing acts on fails this test until it is implemented or warned.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import kubeplay.model.plan as plan
from tests.unit.test_translate_helpers import pod_yaml, run

PACKAGE = Path(plan.__file__).resolve().parent.parent
NOT_ENGINE = ("translate", "generate", "model", "cli")

FOR_GENERATE = {
    "PodPlan.service_account_name": "no API server issues tokens; downward API values are resolved at translation",
    "PodPlan.node_name": "one node; downward API values are resolved at translation",
    "VolumePlan.optional": "a missing optional source is resolved at translation (an empty volume)",
    "SourcePlan.document": "where the manifest came from",
}
WARNED = {
    "PodPlan.host_users": "hostUsers: false is named as ignored at play",
    "ActionPlan.service": "grpc probes are named as not run at play",
}


def engine_attributes() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in NOT_ENGINE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def plan_fields(cls: type, seen: set[type]) -> list[str]:
    if cls in seen:
        return []
    seen.add(cls)
    found = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        found.append(f"{cls.__name__}.{field.name}")
        for inner in _types_in(hints[field.name]):
            if dataclasses.is_dataclass(inner):
                found += plan_fields(inner, seen)
    return found


def _types_in(hint) -> list:
    args = typing.get_args(hint)
    return [hint] if not args else [inner for arg in args for inner in _types_in(arg)]


def test_every_plan_field_is_acted_on_or_listed_with_its_reason():
    used = engine_attributes()
    fields = plan_fields(plan.PodPlan, set())
    unused = {name for name in fields if name.split(".")[1] not in used}
    listed = set(FOR_GENERATE) | set(WARNED)
    assert unused - listed == set(), "plan fields nothing in the engine reads: implement them, or warn at play"
    assert listed - unused == set(), "listed as unused, but the engine reads them now: drop them from the lists"


def test_the_fields_listed_as_warned_are_warned():
    container = "- name: app\n  image: busybox\n  readinessProbe: {grpc: {port: 9000, service: health}}\n"
    warnings = run(pod_yaml(container, extra_spec="hostUsers: false\n")).warnings
    assert any("hostUsers" in w for w in warnings)
    assert any("grpc" in w for w in warnings)

"""Plans stored as JSON read back equal: every example's plans, bytes, nested optionals, old keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubeplay.model.plan import ActionPlan, ContainerPlan, PodPlan, ProbePlan, VolumeFile, VolumePlan
from kubeplay.model.serial import from_dict, to_dict
from kubeplay.translate import TranslateOptions, load, translate

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = sorted((ROOT / "manifests" / "examples").glob("*.yaml")) + [ROOT / "tests" / "data" / "manifests" / "pod-full.yaml"]


def through_json(plan):
    return json.loads(json.dumps(to_dict(plan)))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_plan_reads_back_equal(path):
    plans = translate(load([str(path)]), TranslateOptions()).pods
    assert plans
    for plan in plans:
        assert from_dict(PodPlan, through_json(plan)) == plan


def test_bytes_nested_optionals_and_fixed_tuples_come_back_typed():
    probe = ProbePlan(action=ActionPlan(kind="httpGet", path="/", port="http", headers=(("A", "b"),)))
    plan = PodPlan(
        name="p",
        containers=(ContainerPlan(name="c", image="i", command=("sh", "-c"), args=None, liveness_probe=probe),),
        volumes=(VolumePlan(name="v", kind="secret", files=(VolumeFile(path="k", content=b"\x00\xffbin", mode=0o400),)),),
    )
    back = from_dict(PodPlan, through_json(plan))
    assert back == plan
    assert back.volumes[0].files[0].content == b"\x00\xffbin"
    assert back.containers[0].liveness_probe.action.headers == (("A", "b"),)
    assert back.containers[0].args is None and back.containers[0].readiness_probe is None
    assert isinstance(back.containers[0].command, tuple)


def test_unknown_keys_of_older_plans_are_ignored_and_missing_ones_default():
    data = through_json(PodPlan(name="old"))
    data["retired_field"] = 1
    del data["network"]
    assert from_dict(PodPlan, data) == PodPlan(name="old")


@dataclass(frozen=True)
class Tree:
    name: str
    children: tuple[Tree, ...] = ()


def test_a_type_that_refers_to_itself_reads_back():
    tree = Tree("root", (Tree("a"), Tree("b", (Tree("c"),))))
    assert from_dict(Tree, through_json(tree)) == tree

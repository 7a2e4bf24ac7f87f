"""Plans stored as JSON through pydantic read back equal: every example's plans, bytes, nested
optionals, old keys, plans in the format the previous versions wrote, and data that does not fit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubeplay.model.plan import ActionPlan, ContainerPlan, EnvVar, PodPlan, ProbePlan, VolumeFile, VolumePlan
from kubeplay.model.serial import InvalidData, from_json, from_jsonable, plain_json, to_json, to_jsonable
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import load
from kubeplay.translate.run import translate

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = sorted((ROOT / "manifests" / "examples").glob("*.yaml")) + [ROOT / "tests" / "data" / "manifests" / "pod-full.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_plan_reads_back_equal(path):
    plans = translate(load([str(path)]), TranslateOptions()).pods
    assert plans
    for plan in plans:
        assert from_json(PodPlan, to_json(plan)) == plan
        assert from_jsonable(PodPlan, json.loads(json.dumps(to_jsonable(plan)))) == plan
        assert json.loads(plain_json(plan)) == json.loads(to_json(plan))
        assert from_json(PodPlan, plain_json(plan)) == plan
        for container in plan.all_containers:
            assert plain_json(container) == to_json(container)


def test_bytes_nested_optionals_and_fixed_tuples_come_back_typed():
    probe = ProbePlan(action=ActionPlan(kind="httpGet", path="/", port="http", headers=(("A", "b"),)))
    plan = PodPlan(
        name="p",
        containers=(ContainerPlan(name="c", image="i", command=("sh", "-c"), args=None, liveness_probe=probe),),
        volumes=(VolumePlan(name="v", kind="secret", files=(VolumeFile(path="k", content=b"\x00\xffbin", mode=0o400),)),),
    )
    back = from_json(PodPlan, to_json(plan))
    assert back == plan
    assert from_json(PodPlan, plain_json(plan)) == plan
    assert back.volumes[0].files[0].content == b"\x00\xffbin"
    assert back.containers[0].liveness_probe.action.headers == (("A", "b"),)
    assert back.containers[0].liveness_probe.action.port == "http"
    assert back.containers[0].args is None and back.containers[0].readiness_probe is None
    assert isinstance(back.containers[0].command, tuple)


@pytest.mark.parametrize("text", ["+//+", "-__-"])
def test_file_contents_read_in_either_base64_alphabet(text):
    """Older versions wrote the standard alphabet ('+', '/'), pydantic writes the URL-safe one."""
    data = {"name": "p", "volumes": [{"name": "v", "kind": "secret", "files": [{"path": "k", "content": text}]}]}
    plan = from_jsonable(PodPlan, data)
    assert plan.volumes[0].files[0].content == b"\xfb\xff\xfe"
    assert from_json(PodPlan, to_json(plan)) == plan


# a pod's plan as kubeplay 0.1.0 stored it (json.dumps of its own dataclass walk)
PREVIOUS_FORMAT = (
    '{"name": "web", "namespace": "default", "uid": "u-1", "labels": {"app": "web"}, "annotations": {}, '
    '"containers": [{"name": "c", "image": "docker.io/library/busybox:latest", "image_pull_policy": "IfNotPresent", '
    '"command": ["sh", "-c", "sleep 1"], "args": null, "env": [{"name": "A", "value": "1", "field_path": null, '
    '"source": null}], "working_dir": "", "ports": [{"container_port": 80, "protocol": "TCP", "host_port": 8080, '
    '"host_ip": "", "name": ""}], "mounts": [], "resources": {"cpu_limit_millis": 500, "memory_limit": null, '
    '"cpu_request_millis": null, "memory_request": null, "raw": {"limits": {"cpu": "500m"}}}, "security": '
    '{"privileged": false, "run_as_user": null, "run_as_group": null, "run_as_non_root": null, '
    '"read_only_root_filesystem": false, "allow_privilege_escalation": null, "capabilities_add": ["NET_ADMIN"], '
    '"capabilities_drop": [], "proc_mount": "", "seccomp_profile": "", "supplemental_groups": [], "fs_group": null, '
    '"fs_group_change_policy": "", "sysctls": {}}, "liveness_probe": null, "readiness_probe": null, '
    '"startup_probe": null, "post_start": null, "pre_stop": null, "tty": false, "stdin": false, '
    '"restart_policy": null}], "init_containers": [], "volumes": [{"name": "s", "kind": "secret", "host_path": "", '
    '"host_path_type": "", "medium": "", "size_limit": null, "claim_name": "", "source_name": "s", "files": '
    '[{"path": "key", "content": "+//+", "mode": 256, "field_path": null}], "default_mode": null, "optional": false, '
    '"read_only": false, "image": "", "raw": null, "line": 12}], "restart_policy": "Always", '
    '"termination_grace_period_seconds": 30, "hostname": "", "subdomain": "", "host_network": false, '
    '"host_pid": false, "host_ipc": false, "share_process_namespace": false, "host_users": true, "host_aliases": [], '
    '"dns": {"policy": "ClusterFirst", "nameservers": [], "searches": [], "options": [["ndots", "2"]]}, '
    '"security": {"privileged": false, "run_as_user": null, "run_as_group": null, "run_as_non_root": null, '
    '"read_only_root_filesystem": false, "allow_privilege_escalation": null, "capabilities_add": [], '
    '"capabilities_drop": [], "proc_mount": "", "seccomp_profile": "", "supplemental_groups": [], "fs_group": null, '
    '"fs_group_change_policy": "", "sysctls": {}}, "service_account_name": "", "node_name": "", '
    '"active_deadline_seconds": null, "owner": null, "source": {"file": "/srv/web.yaml", "document": 0}, '
    '"network": ""}'
)


def test_a_plan_in_the_previous_format_reads_back():
    plan = from_json(PodPlan, PREVIOUS_FORMAT)
    container = plan.containers[0]
    assert container.env == (EnvVar(name="A", value="1"),)
    assert container.ports[0].host_port == 8080 and container.security.capabilities_add == ("NET_ADMIN",)
    assert plan.volumes[0].files[0].content == b"\xfb\xff\xfe" and plan.volumes[0].line == 12
    assert plan.dns.options == (("ndots", "2"),) and plan.source.file == "/srv/web.yaml"
    assert plan.enable_service_links is True  # not stored then: its default
    previous = json.loads(PREVIOUS_FORMAT)
    previous["volumes"][0]["files"][0]["content"] = "-__-"  # the same bytes, in the URL-safe alphabet
    added_since = {"enable_service_links": True, "static_ip": "", "mac_address": ""}  # their defaults
    assert json.loads(to_json(plan)) == {**previous, **added_since,
                                         "containers": [{**previous["containers"][0], "stop_signal": ""}]}


def test_unknown_keys_of_older_plans_are_ignored_and_missing_ones_default():
    data = json.loads(to_json(PodPlan(name="old")))
    data["retired_field"] = 1
    del data["network"]
    assert from_jsonable(PodPlan, data) == PodPlan(name="old")


@pytest.mark.parametrize("text, where", [
    ('{"name": 5}', "name"),
    ('{"name": "p", "containers": [{"name": "c"}]}', "containers.0.image"),
    ('{"name": "p", "volumes": [{"name": "v", "kind": "secret", "files": [{"path": "k", "content": "%%%"}]}]}',
     "volumes.0.files.0.content"),
    ('{"name": "p"', "the top level"),
    ("[]", "the top level"),
])
def test_data_that_does_not_fit_names_the_field(text, where):
    with pytest.raises(InvalidData) as caught:
        from_json(PodPlan, text)
    assert str(caught.value).startswith(f"{where}: ")
    assert "\n" not in str(caught.value)


@dataclass(frozen=True)
class Tree:
    name: str
    children: tuple[Tree, ...] = ()


def test_a_type_that_refers_to_itself_reads_back():
    tree = Tree("root", (Tree("a"), Tree("b", (Tree("c"),))))
    assert from_json(Tree, to_json(tree)) == tree


def test_plain_json_writes_what_pydantic_writes():
    """play stores plans with the standard library; pydantic's own dump is the oracle, text for text."""
    plan = PodPlan(
        name="p\u00e9", labels={"\u00fc": "\u2603"},
        containers=(ContainerPlan(name="c", image="i", env=(EnvVar(name="A", value="\u00e9", source={"k": [1, 2.5]}),),
                                  liveness_probe=ProbePlan(action=ActionPlan(kind="exec", command=("a",),
                                                                             headers=(("X", "y"),)))),),
        volumes=(VolumePlan(name="v", kind="secret", raw={"big": 10**20, "nested": {"t": ["x", None, True]}},
                            files=(VolumeFile(path="k", content=bytes(range(256)), mode=0o644),)),),
    )
    assert plain_json(plan) == to_json(plan)
    assert from_json(PodPlan, plain_json(plan)) == plan


def test_a_float_json_cannot_hold_is_written_as_pydantic_writes_it():
    plan = PodPlan(name="p", volumes=(VolumePlan(name="v", kind="emptyDir", raw={"limit": float("inf")}),))
    assert json.loads(plain_json(plan))["volumes"][0]["raw"] == {"limit": None}
    assert plain_json(plan) == to_json(plan)

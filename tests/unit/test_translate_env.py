"""Environment: $(VAR) expansion, ConfigMap/Secret references, fieldRef, resourceFieldRef, envFrom."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from kubeplay.translate.expansion import expand
from tests.unit.test_translate_helpers import pod_yaml, run

OBJECTS = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {color: blue, size: "3"}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {token: dG9rZW4=}
stringData: {user: admin}
"""


@pytest.mark.parametrize("text, expected", [
    ("$(A)", "one"),
    ("x$(A)y$(B)z", "xoneytwoz"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$one"),
    ("$(UNDEFINED)", "$(UNDEFINED)"),
    ("$(A", "$(A"),
    ("$A", "$A"),
    ("cost: 5$", "cost: 5$"),
    ("$()", "$()"),
    ("$$", "$"),
    ("a$$b", "a$b"),
])
def test_expansion_follows_kubernetes(text, expected):
    assert expand(text, {"A": "one", "B": "two"}) == expected


def env_of(containers: str, objects: str = OBJECTS, extra: str = "") -> dict:
    result = run(pod_yaml(containers, extra) + objects)
    return {var.name: var for var in result.pods[0].containers[0].env}


def test_values_expand_against_earlier_entries_only():
    env = env_of("""\
- name: app
  image: busybox
  env:
  - {name: LATER_REF, value: "$(B)"}
  - {name: A, value: one}
  - {name: B, value: "$(A)-two"}
  - {name: ESC, value: "$$(A)"}
""")
    assert env["LATER_REF"].value == "$(B)"
    assert env["B"].value == "one-two"
    assert env["ESC"].value == "$(A)"


def test_command_and_args_expand_against_the_whole_environment():
    result = run(pod_yaml("""\
- name: app
  image: busybox
  command: ["echo", "$(A)", "$$(A)", "$(NOPE)"]
  args: ["$(COLOR)"]
  env: [{name: A, value: one}]
  envFrom: [{configMapRef: {name: cfg}, prefix: ""}]
""") + OBJECTS.replace("color", "COLOR"))
    container = result.pods[0].containers[0]
    assert container.command == ("echo", "one", "$(A)", "$(NOPE)")
    assert container.args == ("blue",)


def test_config_map_and_secret_references_keep_their_source():
    env = env_of("""\
- name: app
  image: busybox
  env:
  - name: COLOR
    valueFrom: {configMapKeyRef: {name: cfg, key: color}}
  - name: TOKEN
    valueFrom: {secretKeyRef: {name: sec, key: token}}
  - name: USER
    valueFrom: {secretKeyRef: {name: sec, key: user}}
  - name: MAYBE
    valueFrom: {configMapKeyRef: {name: cfg, key: absent, optional: true}}
  - name: MAYBE_OBJECT
    valueFrom: {secretKeyRef: {name: nosuch, key: k, optional: true}}
""")
    assert env["COLOR"].value == "blue"
    assert env["COLOR"].source == {"configMapKeyRef": {"name": "cfg", "key": "color"}}
    assert env["TOKEN"].value == "token"
    assert env["USER"].value == "admin"
    assert "MAYBE" not in env and "MAYBE_OBJECT" not in env


@pytest.mark.parametrize("ref, message", [
    ("configMapKeyRef: {name: cfg, key: absent}", 'key "absent" not found in ConfigMap "cfg"'),
    ("configMapKeyRef: {name: other, key: k}", 'ConfigMap "other" not found'),
    ("secretKeyRef: {name: nosuch, key: k}", 'Secret "nosuch" not found'),
])
def test_missing_required_references_name_pod_container_and_variable(ref, message):
    with pytest.raises(ManifestError) as caught:
        env_of(f"- name: app\n  image: busybox\n  env:\n  - name: V\n    valueFrom: {{{ref}}}\n")
    assert caught.value.message == (
        f"app.yaml:10: spec.containers[0].env[0].valueFrom.{ref.split(':')[0]}: {message} "
        "(pod p, container app, variable V); mark it optional: true or add it to the manifests")


def test_field_refs_resolve_now_or_at_runtime():
    env = env_of("""\
- name: app
  image: busybox
  env:
  - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
  - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
  - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
  - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
  - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
  - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
  - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
  - {name: HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
""").values()
    values = {var.name: var for var in env}
    assert values["NAME"].value == "p" and values["NS"].value == "default"
    assert len(values["UID"].value) == 36
    assert values["TIER"].value == ""
    assert values["NODE"].value == "node1" and values["SA"].value == "default"
    assert (values["IP"].value, values["IP"].field_path) == ("", "status.podIP")
    assert values["HOST"].field_path == "status.hostIP"
    assert values["IP"].source == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_unsupported_field_ref_is_an_error():
    with pytest.raises(ManifestError, match='unsupported field "spec.bogus"'):
        env_of("- name: app\n  image: busybox\n  env:\n  - {name: X, valueFrom: {fieldRef: {fieldPath: spec.bogus}}}\n")


def test_resource_field_refs_use_divisor_and_round_up():
    env = env_of("""\
- name: app
  image: busybox
  resources:
    limits: {cpu: 1500m, memory: 100Mi}
  env:
  - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
  - {name: CPU_M, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
  - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
  - {name: REQ_MEM, valueFrom: {resourceFieldRef: {resource: requests.memory}}}
""")
    assert env["CPU"].value == "2"
    assert env["CPU_M"].value == "1500"
    assert env["MEM_MI"].value == "100"
    assert env["REQ_MEM"].value == str(100 * 2**20)  # a request defaults to the limit


def test_env_from_with_prefix_and_optional_sources():
    result = run(pod_yaml("""\
- name: app
  image: busybox
  envFrom:
  - {prefix: CFG_, configMapRef: {name: cfg}}
  - {secretRef: {name: sec}}
  - {configMapRef: {name: gone, optional: true}}
  env:
  - {name: CFG_color, value: red}
""") + OBJECTS)
    env = {var.name: var for var in result.pods[0].containers[0].env}
    assert env["CFG_size"].value == "3"
    assert env["CFG_color"].value == "red"  # env wins over envFrom
    assert env["token"].value == "token" and env["user"].value == "admin"
    assert env["CFG_size"].source == {"envFrom": {"prefix": "CFG_", "configMapRef": {"name": "cfg"}}}


def test_env_from_skips_names_a_prefix_makes_invalid_with_a_warning():
    result = run(pod_yaml("- name: app\n  image: busybox\n  envFrom: [{prefix: 'X=', configMapRef: {name: cfg}}]\n")
                 + OBJECTS)
    assert result.pods[0].containers[0].env == ()
    assert any('skipped key "color"' in warning for warning in result.warnings)


def test_a_config_map_key_that_is_no_file_name_is_refused_with_its_line():
    with pytest.raises(ManifestError, match='app.yaml:13: data: key "bad=key" may hold only'):
        run(pod_yaml("- name: app\n  image: busybox\n") + OBJECTS.replace("color: blue", '"bad=key": x'))


def test_missing_env_from_source_is_an_error():
    with pytest.raises(ManifestError, match='ConfigMap "gone" not found'):
        env_of("- name: app\n  image: busybox\n  envFrom: [{configMapRef: {name: gone}}]\n")

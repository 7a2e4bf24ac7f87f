"""Validation: exact file:line:path messages for every kind of problem, strict vs lenient."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from tests.unit.test_translate_helpers import pod_yaml, run

GOOD = """\
- name: app
  image: busybox:1.36
"""


def errors_of(text: str, strict: bool = False) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        run(text, strict=strict)
    lines = caught.value.message.splitlines()
    assert caught.value.hint and "nothing was created" in caught.value.hint
    return [lines[0]] if len(lines) == 1 else [line.strip() for line in lines[1:]]


@pytest.mark.parametrize("containers, expected", [
    ("- name: app\n  image: busybox\n  imagePullPolicy: always\n",
     'app.yaml:9: spec.containers[0].imagePullPolicy: unknown value "always" (expected Always, IfNotPresent, Never)'),
    ("- name: app\n",
     "app.yaml:7: spec.containers[0].image: required field is missing"),
    ("- image: busybox\n",
     "app.yaml:7: spec.containers[0].name: required field is missing"),
    ("- name: app\n  image: busybox\n  ports:\n  - containerPort: '80'\n",
     'app.yaml:10: spec.containers[0].ports[0].containerPort: expected an integer, got string "80"'),
    ("- name: app\n  image: busybox\n  tty: 'yes'\n",
     'app.yaml:9: spec.containers[0].tty: expected true or false, got string "yes"'),
    ("- name: app\n  image: busybox\n  env:\n  - name: N\n    value: 8080\n",
     "app.yaml:11: spec.containers[0].env[0].value: expected a string, got integer 8080 (quote it)"),
    ("- name: app\n  image: busybox\n  resources:\n    limits:\n      memory: 64MB\n",
     'app.yaml:11: spec.containers[0].resources.limits.memory: expected a quantity such as "250m", "0.5", '
     '"64Mi" or "1G", got "64MB"'),
    ("- name: App_1\n  image: busybox\n",
     'app.yaml:7: spec.containers[0].name: "App_1" is not a valid DNS-1123 label (lower case letters, '
     'digits and "-", starting and ending with a letter or digit)'),
    ("- name: app\n  image: busybox\n  ports:\n  - containerPort: 80\n    name: web--port\n",
     'app.yaml:11: spec.containers[0].ports[0].name: "web--port" is not a valid port name (at most 15 lower '
     'case letters, digits and "-", with at least one letter and no "--")'),
    ("- name: app\n  image: busybox\n  ports:\n  - containerPort: 70000\n",
     "app.yaml:10: spec.containers[0].ports[0].containerPort: 70000 is not a port number (1-65535)"),
    ("- name: app\n  image: busybox\n- name: app\n  image: busybox\n",
     'app.yaml:9: spec.containers[1].name: container name "app" is used twice in this pod'),
    ("- name: app\n  image: busybox\n  volumeMounts:\n  - name: data\n    mountPath: /data\n",
     'app.yaml:10: spec.containers[0].volumeMounts[0].name: no volume named "data" in this pod '
     "(add it under volumes)"),
    ("- name: app\n  image: busybox\n  volumeMounts:\n  - name: v\n    mountPath: /v\n    subPath: ../etc\n",
     None),
])
def test_each_problem_is_named_with_file_line_and_path(containers, expected):
    extra = "volumes:\n- name: v\n  emptyDir: {}\n" if "subPath" in containers else ""
    found = errors_of(pod_yaml(containers, extra))
    if expected is None:
        assert found == ['app.yaml:15: spec.containers[0].volumeMounts[0].subPath: "../etc" must not contain "..": '
                         "a subPath must stay inside its volume"]
    else:
        assert found == [expected]


def test_pod_name_must_be_a_dns_subdomain():
    assert errors_of(pod_yaml(GOOD, name="Web_App")) == [
        'app.yaml:4: metadata.name: "Web_App" is not a valid DNS-1123 subdomain (lower case letters, digits, '
        '"-" and ".", starting and ending with a letter or digit)']


def test_all_errors_of_a_run_are_reported_together():
    text = pod_yaml("- name: a\n  image: busybox\n  imagePullPolicy: sometimes\n- name: b\n") + \
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  restartPolicy: Maybe\n" \
        "  containers: [{name: c, image: busybox}]\n"
    found = errors_of(text)
    assert found == [
        'app.yaml:9: spec.containers[0].imagePullPolicy: unknown value "sometimes" '
        "(expected Always, IfNotPresent, Never)",
        "app.yaml:10: spec.containers[1].image: required field is missing",
        'app.yaml:16: spec.restartPolicy: unknown value "Maybe" (expected Always, OnFailure, Never)',
    ]


def test_unknown_field_is_a_warning_with_a_suggestion():
    result = run(pod_yaml("- name: app\n  image: busybox\n  imagePullPolity: Always\n"))
    assert "app.yaml:9: spec.containers[0].imagePullPolity: unknown field (did you mean imagePullPolicy?)" \
        in result.warnings
    assert len(result.pods) == 1


def test_unknown_field_without_a_close_match_has_no_suggestion():
    result = run(pod_yaml("- name: app\n  image: busybox\n  zzz: 1\n"))
    assert "app.yaml:9: spec.containers[0].zzz: unknown field" in result.warnings


def test_unknown_field_is_an_error_under_strict():
    assert errors_of(pod_yaml(GOOD, "restartPolcy: Never\n"), strict=True) == [
        "app.yaml:6: spec.restartPolcy: unknown field (did you mean restartPolicy?)"]


def test_unsupported_kind_is_skipped_with_a_warning_or_refused_under_strict():
    text = pod_yaml(GOOD) + "---\napiVersion: v1\nkind: Frobnicator\nmetadata: {name: f}\n"
    result = run(text)
    assert result.warnings == [
        "app.yaml:10: kubeplay does not support kind Frobnicator (document 2 of app.yaml); it was skipped"]
    assert [pod.name for pod in result.pods] == ["p"]
    assert errors_of(text, strict=True) == [
        "app.yaml:10: kubeplay does not support kind Frobnicator (document 2 of app.yaml); it was skipped"]


def test_wrong_api_version_is_an_error():
    text = pod_yaml(GOOD).replace("apiVersion: v1", "apiVersion: apps/v1")
    assert errors_of(text) == ['app.yaml:1: apiVersion: "apps/v1" for kind Pod (expected v1)']


def test_ignored_kubernetes_fields_are_named():
    result = run(pod_yaml(GOOD, "nodeSelector: {disk: ssd}\npriorityClassName: high\n"))
    assert result.warnings == [
        "app.yaml:6: kubeplay ignores spec.nodeSelector: pods run on one node",
        "app.yaml:7: kubeplay ignores spec.priorityClassName: there is no scheduler",
    ]


def test_ignored_fields_are_errors_under_strict_but_defaults_are_not():
    text = pod_yaml("- name: app\n  image: busybox\n  terminationMessagePath: /dev/termination-log\n",
                    "schedulerName: default-scheduler\naffinity: {}\ntolerations:\n- key: k\n")
    assert errors_of(text, strict=True) == [
        "app.yaml:8: kubeplay ignores spec.tolerations: pods run on one node"]


def test_status_and_server_metadata_are_not_reported():
    text = pod_yaml(GOOD).replace("  name: p\n", "  name: p\n  uid: abc\n  resourceVersion: '5'\n")
    result = run(text + "status:\n  phase: Running\n")
    assert result.warnings == []

"""Probes and hooks the engine could not run are refused at translation, naming file:line and field."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from tests.unit.test_translate_helpers import pod_yaml, run


def container(probe_yaml: str, ports: str = "") -> str:
    return f"- name: app\n  image: busybox\n{ports}{probe_yaml}"


@pytest.mark.parametrize(("probe", "problem"), [
    ("  livenessProbe: {httpGet: {port: web}}\n", r'app.yaml:\d+: spec.containers\[0\].livenessProbe.httpGet.port: '
                                                   r'no port named "web"'),
    ("  readinessProbe:\n    tcpSocket: {port: 80}\n    periodSeconds: 0\n",
     r"app.yaml:11: spec.containers\[0\].readinessProbe.periodSeconds: 0 is not allowed: it must be at least 1"),
    ("  livenessProbe:\n    tcpSocket: {port: 80}\n    periodSeconds: -5\n",
     r"livenessProbe.periodSeconds: -5 is not allowed"),
    ("  livenessProbe: {exec: {command: []}}\n", r"app.yaml:9: spec.containers\[0\].livenessProbe.exec.command: is empty"),
    ("  livenessProbe: {exec: {}}\n", r"livenessProbe.exec.command: is empty"),
    ("  startupProbe:\n    httpGet: {port: 80, scheme: FTP}\n",
     r'startupProbe.httpGet.scheme: (.*FTP.*)'),
    ("  livenessProbe:\n    tcpSocket: {port: 80}\n    successThreshold: 2\n", r"successThreshold: must be 1"),
    ("  readinessProbe:\n    tcpSocket: {port: 80}\n    terminationGracePeriodSeconds: 5\n",
     r"readinessProbe.terminationGracePeriodSeconds: a readinessProbe kills nothing"),
    ("  livenessProbe: {tcpSocket: {}}\n", r"livenessProbe.tcpSocket.port: required field is missing"),
    ("  lifecycle: {postStart: {exec: {command: []}}}\n", r"lifecycle.postStart.exec.command: is empty"),
])
def test_bad_probes_are_refused_with_file_line_and_field(probe, problem):
    with pytest.raises(ManifestError, match=problem):
        run(pod_yaml(container(probe)))


def test_a_named_port_resolves_and_every_timing_field_is_kept():
    probe = ("  ports: [{name: web, containerPort: 8080}]\n"
             "  livenessProbe:\n    httpGet: {port: web, scheme: HTTPS}\n    initialDelaySeconds: 3\n"
             "    periodSeconds: 2\n    timeoutSeconds: 4\n    failureThreshold: 5\n"
             "    terminationGracePeriodSeconds: 7\n")
    result = run(pod_yaml(container(probe)))
    assert result.warnings == []
    live = result.pods[0].containers[0].liveness_probe
    assert (live.action.port, live.action.scheme) == (8080, "HTTPS")
    assert (live.initial_delay_seconds, live.period_seconds, live.timeout_seconds, live.success_threshold,
            live.failure_threshold, live.termination_grace_period_seconds) == (3, 2, 4, 1, 5, 7)


def test_grpc_probes_and_tcp_hooks_are_named_as_not_run_and_refused_under_strict():
    probe = "  readinessProbe: {grpc: {port: 9000}}\n  lifecycle: {preStop: {tcpSocket: {port: 80}}}\n"
    result = run(pod_yaml(container(probe)))
    assert any("readinessProbe.grpc: kubeplay does not run grpc probes" in w for w in result.warnings)
    assert any("lifecycle.preStop.tcpSocket: a tcpSocket lifecycle hook is not run" in w for w in result.warnings)
    assert result.pods[0].containers[0].pre_stop is None
    with pytest.raises(ManifestError, match="grpc"):
        run(pod_yaml(container(probe)), strict=True)


def test_an_init_container_that_runs_to_completion_has_no_probes():
    text = pod_yaml(container(""), extra_spec="initContainers:\n- name: setup\n  image: busybox\n"
                                              "  readinessProbe: {tcpSocket: {port: 80}}\n")
    with pytest.raises(ManifestError, match=r"initContainers\[0\].readinessProbe: an init container"):
        run(text)


def test_host_users_false_is_named_as_ignored():
    result = run(pod_yaml(container(""), extra_spec="hostUsers: false\n"))
    assert any("spec.hostUsers" in w and "ignores" in w for w in result.warnings)

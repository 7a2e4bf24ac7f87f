"""Service documents: what becomes a ServicePlan, and every bad input named with file:line."""

from __future__ import annotations

import pytest

from kubeplay.errors import ManifestError
from kubeplay.model.service import ServicePort
from tests.unit.test_translate_helpers import run


def service(spec: str, name: str = "web", extra_meta: str = "") -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}{extra_meta}}}\nspec:\n{spec}"


def errors_of(text: str, strict: bool = False) -> str:
    with pytest.raises(ManifestError) as caught:
        run(text, strict=strict)
    return caught.value.message


def test_cluster_ip_service_becomes_a_plan():
    result = run(service("  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: http}\n"
                         "  - {name: dns, port: 53, protocol: UDP}\n", extra_meta=", namespace: shop"))
    [plan] = result.services
    assert (plan.name, plan.namespace, plan.type, plan.headless, plan.cluster_ip) == ("web", "shop", "ClusterIP", False, "")
    assert plan.selector == {"app": "web"}
    assert plan.ports == (ServicePort(80, "http", "TCP", "http"), ServicePort(53, 53, "UDP", "dns"))
    assert plan.source.file == "app.yaml" and result.warnings == []


def test_headless_node_port_and_affinity():
    result = run(service("  clusterIP: None\n  selector: {app: web}\n", name="db")
                 + "---\n" + service("  type: NodePort\n  selector: {app: web}\n  sessionAffinity: ClientIP\n"
                                     "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n"
                                     "  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]\n"))
    headless, node = result.services
    assert headless.headless and headless.ports == ()
    assert node.type == "NodePort" and node.ports[0].node_port == 30080 and node.ports[0].target_port == 8080
    assert (node.session_affinity, node.affinity_timeout) == ("ClientIP", 60)
    assert node.where("spec.ports[0].nodePort") == "app.yaml:16: spec.ports[0].nodePort"


def test_fixed_cluster_ip_keeps_its_line():
    [plan] = run(service("  clusterIP: 10.96.5.5\n  selector: {app: web}\n  ports: [{port: 80}]\n")).services
    assert plan.cluster_ip == "10.96.5.5" and plan.where("spec.clusterIP") == "app.yaml:5: spec.clusterIP"


@pytest.mark.parametrize(("spec", "expected"), [
    ("  ports: [{port: 70000}]\n", "app.yaml:5: spec.ports[0].port: 70000 is not a port number"),
    ("  ports: [{port: 80, targetPort: -bad-}]\n", "spec.ports[0].targetPort"),
    ("  ports: [{port: 80, targetPort: 99999}]\n", "spec.ports[0].targetPort: 99999 is not a port number"),
    ("  ports: [{port: 80, protocol: SCTP}]\n", "spec.ports[0].protocol: SCTP is not supported"),
    ("  ports:\n  - {name: a, port: 80}\n  - {name: a, port: 81}\n",
     'app.yaml:7: spec.ports[1].name: "a" is also the name of spec.ports[0]'),
    ("  ports:\n  - {port: 80}\n  - {port: 81}\n", "spec.ports[0].name: required when a Service has more than one port"),
    ("  ports:\n  - {name: a, port: 80}\n  - {name: b, port: 80}\n", "spec.ports[1].port: 80/TCP is also spec.ports[0]"),
    ("  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n",
     "app.yaml:6: spec.ports[0].nodePort: 80 is outside the node port range 30000-32767"),
    ("  ports: [{port: 80, nodePort: 30001}]\n", "a ClusterIP Service has no nodePort"),
    ("  type: NodePort\n  clusterIP: None\n  ports: [{port: 80}]\n", "a NodePort Service cannot be headless"),
    ("  clusterIP: 10.0.0.300\n  ports: [{port: 80}]\n", 'spec.clusterIP: "10.0.0.300" is not an IPv4 address'),
    ("  selector: [app, web]\n  ports: [{port: 80}]\n", "app.yaml:5: spec.selector: expected a mapping"),
    ("  ports: []\n", "spec.ports: at least one port is required"),
    ("  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}\n  ports: [{port: 80}]\n",
     "timeoutSeconds: 0 is not between 1 and 86400"),
])
def test_bad_service_input_is_named_with_its_line(spec, expected):
    assert expected in errors_of(service(spec))


def test_duplicate_service_is_refused():
    text = service("  selector: {a: b}\n  ports: [{port: 80}]\n")
    assert 'Service "web" is defined twice' in errors_of(text + "---\n" + text)


def test_no_selector_and_external_name_are_warned_about():
    result = run(service("  ports: [{port: 80}]\n") + "---\n"
                 + service("  type: ExternalName\n  externalName: example.org\n", name="ext"))
    assert [plan.name for plan in result.services] == ["web"]
    assert any("spec.selector: not set" in warning for warning in result.warnings)
    assert any("ExternalName" in warning for warning in result.warnings)
    assert "ExternalName" in errors_of(service("  type: ExternalName\n  externalName: example.org\n"), strict=True)


def test_unsupported_traffic_policy_is_named_and_defaults_are_quiet():
    quiet = run(service("  selector: {a: b}\n  externalTrafficPolicy: Cluster\n  ipFamilies: [IPv4]\n"
                        "  ipFamilyPolicy: SingleStack\n  ports: [{port: 80}]\n"))
    assert quiet.warnings == []
    loud = run(service("  type: NodePort\n  selector: {a: b}\n  externalTrafficPolicy: Local\n  ports: [{port: 80}]\n"))
    assert any("externalTrafficPolicy" in warning and "Local" in warning for warning in loud.warnings)

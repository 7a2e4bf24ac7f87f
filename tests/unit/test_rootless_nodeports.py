"""A rootless node port's holder spreads it over the Service's ready pods (pods/rootlessnodeports.py)."""

from __future__ import annotations

from kubeplay.model.endpoints import endpoints_of
from kubeplay.model.record import ContainerStatus
from kubeplay.model.service import ServicePlan, ServicePort, ServiceRecord
from kubeplay.pods.rootlessnodeports import node_port_script, routes_for
from kubeplay.rootless.network import Forwards, LoopbackForward
from tests.unit.test_services_units import pod_record

NODE = ServicePlan(name="web", selector={"app": "web"}, type="NodePort",
                   ports=(ServicePort(80, "http", name="http", node_port=30080),))
FORWARDS = {("default", "a"): Forwards("192.0.2.1", (LoopbackForward("TCP", 8080, 41001),)),
            ("default", "b"): Forwards("192.0.2.1", (LoopbackForward("TCP", 8080, 41002),))}


def service() -> ServiceRecord:
    return ServiceRecord(plan=NODE, cluster_ip="10.96.0.7", ports=NODE.ports)


def routes(pods, holder):
    record = service()
    return routes_for(holder, [("TCP", 30080)], [(record, endpoints_of(record, pods))], "192.0.2.1", FORWARDS)


def test_holder_sends_the_node_port_to_itself_on_loopback_and_to_the_others_through_the_gateway():
    a, b = pod_record("a", "192.0.2.2", {"app": "web"}), pod_record("b", "192.0.2.2", {"app": "web"})
    (route,) = routes([a, b], a)
    assert route.targets == (("127.0.0.1", 8080), ("192.0.2.1", 41002))
    script = node_port_script([route])
    assert "add element inet kubeplay-pod-services node-ports { tcp . 30080 : goto node-port-tcp-30080 }" in script
    assert "numgen random mod 2 vmap { 0 : goto node-port-tcp-30080-0, 1 : goto node-port-tcp-30080-1 }" in script
    assert "meta l4proto tcp dnat ip to 192.0.2.1:41002" in script
    # connections from the host's loopback (pasta) and from the tap device both go through the map
    assert "node-ports-out fib daddr type local meta l4proto . th dport vmap @node-ports" in script
    assert "node-ports-pre fib daddr type local meta l4proto . th dport vmap @node-ports" in script


def test_a_not_ready_holder_gets_none_and_with_no_ready_pod_the_port_is_refused():
    a = pod_record("a", "192.0.2.2", {"app": "web"}, status=ContainerStatus.EXITED)
    b = pod_record("b", "192.0.2.2", {"app": "web"})
    (route,) = routes([a, b], a)
    assert route.targets == (("192.0.2.1", 41002),)
    (refused,) = routes([a], a)
    assert refused.targets == ()
    script = node_port_script([refused])
    assert "node-port-tcp-30080 meta l4proto tcp reject with tcp reset" in script and "numgen" not in script


def test_a_port_whose_service_is_gone_is_refused_and_nothing_held_adds_nothing():
    a = pod_record("a", "192.0.2.2", {"app": "web"})
    (route,) = routes_for(a, [("UDP", 31000)], [], "192.0.2.1", FORWARDS)
    assert (route.protocol, route.number, route.targets) == ("UDP", 31000, ())
    assert node_port_script([]) == ""


def test_a_udp_node_port_is_spread_too_and_the_holder_redirects_its_own_share():
    plan = ServicePlan(name="dns", selector={"app": "web"}, type="NodePort",
                       ports=(ServicePort(53, 8080, protocol="UDP", node_port=30053),))
    record = ServiceRecord(plan=plan, cluster_ip="10.96.0.8", ports=plan.ports)
    forwards = {key: Forwards("192.0.2.1", (LoopbackForward("UDP", 8080, 41003),)) for key in FORWARDS}
    a, b = pod_record("a", "192.0.2.2", {"app": "web"}), pod_record("b", "192.0.2.2", {"app": "web"})
    (route,) = routes_for(a, [("UDP", 30053)], [(record, endpoints_of(record, [a, b]))], "192.0.2.1", forwards)
    assert route.targets == (("127.0.0.1", 8080), ("192.0.2.1", 41003))
    script = node_port_script([route])
    # answered from the address the datagram came in on, which a dnat to 127.0.0.1 would not be
    assert "node-port-udp-30053-0 ct mark set 0x4b504e50 meta l4proto udp redirect to :8080" in script
    assert "node-port-udp-30053-1 ct mark set 0x4b504e50 meta l4proto udp dnat ip to 192.0.2.1:41003" in script
    assert "masquerade random" in script  # pasta drops a datagram sent on under a source port still held
    unready = pod_record("a", "192.0.2.2", {"app": "web"}, status=ContainerStatus.EXITED)
    (others,) = routes_for(unready, [("UDP", 30053)], [(record, endpoints_of(record, [unready, b]))],
                           "192.0.2.1", forwards)
    assert others.targets == (("192.0.2.1", 41003),)

"""Which UDP flows a Service's rule change makes stale (the netlink part runs in the Service tests)."""

from kubeplay.net.conntrack import UdpService, is_stale

DNS = UdpService("10.96.0.10", 53, (30053,), frozenset({"10.88.0.5"}))


def test_a_flow_to_the_cluster_ip_answered_by_a_gone_endpoint_is_stale():
    assert is_stale(DNS, ("10.96.0.10", 53), "10.88.0.4")
    assert not is_stale(DNS, ("10.96.0.10", 53), "10.88.0.5")


def test_a_flow_to_a_node_port_is_the_services_too():
    assert is_stale(DNS, ("192.168.1.2", 30053), "10.88.0.4")
    assert not is_stale(DNS, ("192.168.1.2", 30054), "10.88.0.4")


def test_an_untranslated_flow_or_another_port_is_left_alone():
    assert not is_stale(DNS, ("10.96.0.10", 53), "10.96.0.10")
    assert not is_stale(DNS, ("10.96.0.10", 54), "10.88.0.4")
    headless = UdpService("", 53, (), frozenset())
    assert not is_stale(headless, ("", 53), "10.88.0.4")

"""Subnet validation, overlap detection, default subnet choice and /proc/net/route parsing."""

import ipaddress

import pytest

from kubeplay.errors import ConflictError, UserError
from kubeplay.net.subnets import (
    HostRoute,
    check_free,
    check_network_name,
    parse_proc_route,
    parse_subnet,
    pick_free_subnet,
    pod_addresses,
)

PROC_ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
kp0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def net(text):
    return ipaddress.ip_network(text)


@pytest.mark.parametrize("text", ["10.89.0.5/24", "not-a-subnet", "fd00::/64", "10.0.0.0/31",
                                  "10.0.0.0/4", "127.0.0.0/8", "224.0.0.0/8", "169.254.0.0/16", ""])
def test_invalid_subnets_are_user_errors(text):
    with pytest.raises(UserError) as info:
        parse_subnet(text)
    assert repr(text) in info.value.message or text in info.value.message
    assert info.value.hint


def test_valid_subnet_parses():
    assert parse_subnet("10.89.7.0/24") == net("10.89.7.0/24")


@pytest.mark.parametrize("name", ["none", "host", "-bad", "a b", "x" * 65, ""])
def test_invalid_network_names(name):
    with pytest.raises(UserError):
        check_network_name(name)


def test_pod_addresses_skip_network_gateway_and_broadcast():
    addresses = list(pod_addresses(net("10.89.0.0/29")))
    assert addresses == ["10.89.0.2", "10.89.0.3", "10.89.0.4", "10.89.0.5", "10.89.0.6"]


def test_overlap_with_kubeplay_network_names_it():
    with pytest.raises(ConflictError, match='kubeplay network "a"'):
        check_free(net("10.89.5.128/25"), [("a", "10.89.5.0/24")], [])


def test_overlap_with_host_route_names_it_but_not_default_or_own_bridge():
    routes = parse_proc_route(PROC_ROUTE)
    assert HostRoute(net("192.0.2.0/24"), "eth0") in routes
    with pytest.raises(ConflictError, match="host route 192.0.2.0/24 on eth0"):
        check_free(net("192.0.2.0/25"), [], routes)
    # the default route overlaps everything and must not count; kp0's route is kubeplay's own
    check_free(net("10.89.0.0/24"), [], routes, own_bridges=["kp0"])


def test_default_subnet_is_first_free_24():
    routes = [HostRoute(net("10.89.0.0/24"), "eth1")]
    assert pick_free_subnet([("x", "10.89.1.0/24")], routes) == net("10.89.2.0/24")
    assert pick_free_subnet([], []) == net("10.89.0.0/24")


def test_a_bridge_is_not_brought_up_for_a_subnet_routed_through_another_interface():
    from kubeplay.net.bridge import check_not_routed_elsewhere
    from kubeplay.store.network import NetworkRecord

    record = NetworkRecord(name="blue", subnet="10.90.5.0/24", gateway="10.90.5.1", bridge="kp7", created_at=0.0)
    check_not_routed_elsewhere(record, [HostRoute(net("10.90.5.0/24"), "kp7"), HostRoute(net("0.0.0.0/0"), "eth0")])
    with pytest.raises(ConflictError, match=r"overlaps the host route 10\.90\.5\.0/24 on kp3"):
        check_not_routed_elsewhere(record, [HostRoute(net("10.90.5.0/24"), "kp3")])

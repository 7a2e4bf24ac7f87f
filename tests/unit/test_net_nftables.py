"""nftables script generation and reading claims back from `nft -j` output."""

import pytest

from kubeplay.errors import ConflictError, UserError
from kubeplay.model.plan import PortMapping
from kubeplay.net.nftables import (
    base_script,
    jumps_to,
    masquerade_script,
    pod_chain,
    publish_script,
)
from kubeplay.net.ports import PortClaim, check_ports, claims_from_rules


def test_base_script_refills_base_chains_idempotently():
    script = base_script("kpt")
    assert "add table inet kpt" in script
    for chain in ("prerouting", "output", "postrouting"):
        assert f"flush chain inet kpt {chain}" in script
    assert "add rule inet kpt prerouting fib daddr type local jump hostports" in script
    assert "add rule inet kpt output fib daddr type local jump hostports" in script
    assert "ip saddr 127.0.0.0/8 ct status dnat masquerade" in script
    # pod and network chains are never flushed by the base script
    assert "flush chain inet kpt hostports" not in script


def test_publish_script_dnats_each_host_port_and_jumps_once():
    ports = [
        PortMapping(container_port=80, host_port=8080),
        PortMapping(container_port=53, protocol="UDP", host_port=5353, host_ip="127.0.0.1"),
        PortMapping(container_port=9000),  # no hostPort: not published
    ]
    script = publish_script("web", "10.89.0.2", ports, "kpt", stale_jumps=[7])
    lines = script.splitlines()
    assert "delete rule inet kpt hostports handle 7" in lines
    assert 'add rule inet kpt pod-web tcp dport 8080 dnat ip to 10.89.0.2:80 comment "pod web"' in lines
    assert ('add rule inet kpt pod-web ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.89.0.2:53'
            ' comment "pod web"') in lines
    assert "9000" not in script
    assert lines.count('add rule inet kpt hostports jump pod-web comment "pod web"') == 1
    # the stale jump is deleted before the new one is added, in the same transaction
    assert lines.index("delete rule inet kpt hostports handle 7") < lines.index(
        'add rule inet kpt hostports jump pod-web comment "pod web"')


def test_chain_names_are_safe_for_odd_pod_names():
    assert pod_chain("web-1.a") == "pod-web-1.a"
    odd = pod_chain("Bad Name;flush ruleset")
    assert odd.startswith("pod-") and " " not in odd and ";" not in odd


def test_chains_of_pods_in_other_stores_are_marked_with_their_store():
    assert pod_chain("web") == "pod-web"  # the default store
    in_store = pod_chain("web", "/tmp/store-a")
    assert in_store.startswith("pod-web.") and in_store != pod_chain("web", "/tmp/store-b")
    assert pod_chain("web", "/tmp/store-a") == in_store
    script = publish_script("web", "10.89.0.2", [PortMapping(container_port=80, host_port=8080)], "kpt",
                            scope="/tmp/store-a")
    assert f"add rule inet kpt hostports jump {in_store} comment \"pod web\"" in script


def test_masquerade_script_excludes_the_bridge_subnet():
    script = masquerade_script("blue", "10.89.3.0/24", "kpt")
    assert "add rule inet kpt net-blue ip daddr != 10.89.3.0/24 masquerade" in script
    assert "add rule inet kpt outbound ip saddr 10.89.3.0/24 jump net-blue" in script
    assert "return" not in script  # without br_netfilter every DNATed connection into the subnet is masqueraded


def test_with_bridged_netfilter_only_a_pod_reaching_itself_is_masqueraded_into_its_subnet():
    lines = masquerade_script("blue", "10.89.3.0/24", "kpt", bridged_netfilter=True).splitlines()
    keep = next(line for line in lines if line.endswith('return comment "network blue"'))
    masquerade = next(line for line in lines if "ip daddr 10.89.3.0/24 ct status dnat masquerade" in line)
    assert "ip daddr 10.89.3.0/24 ct status dnat meta mark & 0x4000 == 0" in keep
    assert lines.index(keep) < lines.index(masquerade)


def test_a_pod_reaching_its_own_host_port_is_marked_for_masquerade_before_the_dnat():
    lines = publish_script("web", "10.89.0.2", [PortMapping(container_port=80, host_port=8080)], "kpt").splitlines()
    mark = "add rule inet kpt pod-web ip saddr 10.89.0.2 meta mark set meta mark | 0x4000"
    assert lines.index(mark) < next(i for i, line in enumerate(lines) if "dnat ip to 10.89.0.2:80" in line)


NFT_JSON = [
    {"chain": {"family": "inet", "table": "kpt", "name": "pod-web", "handle": 4}},
    {"rule": {"chain": "hostports", "handle": 9, "comment": "pod web",
              "expr": [{"jump": {"target": "pod-web"}}]}},
    {"rule": {"chain": "hostports", "handle": 10, "comment": "pod db",
              "expr": [{"jump": {"target": "pod-db"}}]}},
    {"rule": {"chain": "pod-web", "handle": 5, "comment": "pod web", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
        {"dnat": {"family": "ip", "addr": "10.89.0.2", "port": 80}}]}},
    {"rule": {"chain": "pod-web", "handle": 6, "comment": "pod web", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "127.0.0.1"}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5353}},
        {"dnat": {"family": "ip", "addr": "10.89.0.2", "port": 53}}]}},
]


def test_claims_and_jumps_are_read_back_from_json():
    assert claims_from_rules(NFT_JSON) == [
        PortClaim("web", "TCP", 8080, ""),
        PortClaim("web", "UDP", 5353, "127.0.0.1"),
    ]
    assert jumps_to(NFT_JSON, "hostports", "pod-web") == [9]


def test_port_held_by_another_pod_is_refused_naming_it():
    claims = claims_from_rules(NFT_JSON)
    with pytest.raises(ConflictError, match='already published by pod "web"'):
        check_ports(claims, [PortMapping(container_port=1, host_port=8080)], pod_name="api", probe_host=False)
    # a specific hostIP still collides with a claim on every address, and vice versa
    with pytest.raises(ConflictError):
        check_ports(claims, [PortMapping(container_port=1, host_port=8080, host_ip="10.0.0.1")],
                    pod_name="api", probe_host=False)
    with pytest.raises(ConflictError):
        check_ports(claims, [PortMapping(container_port=1, protocol="UDP", host_port=5353)],
                    pod_name="api", probe_host=False)


def test_no_conflict_across_protocols_addresses_or_with_own_claims():
    claims = [PortClaim("web", "UDP", 5353, "127.0.0.1"), PortClaim("web", "TCP", 8080, "")]
    check_ports(claims, [PortMapping(container_port=1, host_port=5353)], pod_name="api", probe_host=False)
    check_ports([PortClaim("x", "TCP", 7000, "127.0.0.1")],
                [PortMapping(container_port=1, host_port=7000, host_ip="127.0.0.2")], pod_name="api",
                probe_host=False)
    check_ports(claims, [PortMapping(container_port=1, host_port=8080)], pod_name="web", probe_host=False)


def test_a_pod_of_the_same_name_in_another_store_is_someone_else():
    web_here, web_there = pod_chain("web", "/tmp/store-a"), pod_chain("web", "/tmp/store-b")
    claims = [PortClaim("web", "TCP", 8080, "", chain=web_there)]
    with pytest.raises(ConflictError, match='already published by pod "web"'):
        check_ports(claims, [PortMapping(container_port=1, host_port=8080)], pod_name="web", own_chain=web_here,
                    probe_host=False)
    own = [PortClaim("web", "TCP", 8080, "", chain=web_here)]
    check_ports(own, [PortMapping(container_port=1, host_port=8080)], pod_name="web", own_chain=web_here,
                probe_host=False)


@pytest.mark.parametrize("port, message", [
    (PortMapping(container_port=80, host_port=70000), "out of range"),
    (PortMapping(container_port=0, host_port=8080), "containerPort 0"),
    (PortMapping(container_port=80, host_port=8080, protocol="SCTP"), "SCTP"),
    (PortMapping(container_port=80, host_port=8080, host_ip="nope"), "not an IPv4 address"),
])
def test_invalid_ports_are_user_errors(port, message):
    with pytest.raises(UserError, match=message):
        check_ports([], [port], pod_name="p", probe_host=False)


def test_privileged_port_refused_when_rootless_and_duplicates_refused():
    with pytest.raises(UserError, match="privileged"):
        check_ports([], [PortMapping(container_port=80, host_port=80)], pod_name="p", rootless=True,
                    probe_host=False)
    twice = [PortMapping(container_port=80, host_port=8080), PortMapping(container_port=81, host_port=8080)]
    with pytest.raises(ConflictError, match="twice"):
        check_ports([], twice, pod_name="p", probe_host=False)


def test_port_bound_on_host_is_refused_naming_the_process():
    import os
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConflictError, match=f"pid {os.getpid()}"):
            check_ports([], [PortMapping(container_port=80, host_port=port)], pod_name="p")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(ConflictError, match="in use on the host"):
            check_ports([], [PortMapping(container_port=53, protocol="UDP", host_port=port)], pod_name="p")

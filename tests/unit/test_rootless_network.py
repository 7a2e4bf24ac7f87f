"""Rootless networking without running anything: pasta's argv, slirp4netns requests, port limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import HostError, UserError
from kubeplay.model.plan import PortMapping
from kubeplay.rootless import network


def port(container: int, host: int, protocol: str = "TCP", host_ip: str = "") -> PortMapping:
    return PortMapping(container_port=container, host_port=host, protocol=protocol, host_ip=host_ip)


def test_pasta_forwards_exactly_the_published_ports() -> None:
    argv = network.pasta_argv("/usr/bin/pasta", Path("/run/ns"), Path("/run/ns.pid"),
                              [port(80, 8080), port(53, 5353, "UDP"), port(443, 8443, host_ip="127.0.0.1")])
    assert argv[:6] == ["/usr/bin/pasta", "--config-net", "--netns", "/run/ns", "--quiet", "--pid"]
    pairs = list(zip(argv[7::2], argv[8::2]))
    assert ("-t", "8080:80") in pairs and ("-t", "127.0.0.1/8443:443") in pairs
    assert ("-u", "5353:5353") in pairs  # renumbered inside the namespace (rootless/udpports.py)
    assert ("-T", "none") in pairs and ("-U", "none") in pairs


def test_pasta_without_ports_forwards_none() -> None:
    argv = network.pasta_argv("pasta", Path("/ns"), Path("/pid"), [])
    pairs = list(zip(argv[7::2], argv[8::2]))
    assert ("-t", "none") in pairs and ("-u", "none") in pairs


def test_slirp_requests_target_the_guest_address() -> None:
    requests = network.hostfwd_requests([port(80, 8080), port(53, 5353, "UDP", "127.0.0.1")])
    assert requests[0] == {"execute": "add_hostfwd", "arguments": {
        "proto": "tcp", "host_addr": "0.0.0.0", "host_port": 8080, "guest_addr": "10.0.2.100", "guest_port": 80}}
    assert requests[1]["arguments"]["proto"] == "udp" and requests[1]["arguments"]["host_addr"] == "127.0.0.1"


def test_low_host_port_names_the_sysctl_and_how_to_lower_it() -> None:
    with pytest.raises(UserError) as caught:
        network.check_host_ports("web", [port(80, 8080), port(80, 80)], start=1024)
    assert "net.ipv4.ip_unprivileged_port_start" in caught.value.message and "80" in caught.value.message
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start=80" in caught.value.hint


def test_ports_at_the_limit_pass() -> None:
    network.check_host_ports("web", [port(80, 1024), port(80, 0)], start=1024)


def test_no_helper_on_path_names_both_and_the_package(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HostError) as caught:
        network.choose_helper()
    assert "pasta" in caught.value.message and "slirp4netns" in caught.value.message
    assert "apt-get install passt" in caught.value.hint


def test_pasta_is_preferred(monkeypatch, tmp_path: Path) -> None:
    for name in ("pasta", "slirp4netns"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert network.choose_helper() == ("pasta", str(tmp_path / "pasta"))


def test_teardown_of_nothing_is_quiet(tmp_path: Path) -> None:
    network.teardown(tmp_path, "0123abcd")  # no helper, no namespace: nothing to do, no error


def test_pasta_also_forwards_each_declared_port_from_the_host_loopback() -> None:
    forwards = (network.LoopbackForward("TCP", 8080, 41001), network.LoopbackForward("UDP", 53, 41002))
    argv = network.pasta_argv("pasta", Path("/ns"), Path("/pid"), [port(80, 8080)], forwards)
    pairs = list(zip(argv[7::2], argv[8::2]))
    assert ("-t", "8080:80") in pairs and ("-t", "127.0.0.1/41001:8080") in pairs
    assert ("-u", "127.0.0.1/41002:41002") in pairs and ("-u", "none") not in pairs


def test_udp_under_another_number_is_renumbered_inside_the_namespace_and_tcp_or_the_same_number_is_not() -> None:
    from kubeplay.rootless.udpports import renumber_script, renumbered

    assert renumbered("UDP", 41002, 53) and not renumbered("TCP", 41002, 53) and not renumbered("UDP", 53, 53)
    assert renumber_script([]) == ""
    script = renumber_script([(41002, 53), (41002, 53), (5300, 53)])
    for chain in ("prerouting", "output"):
        assert f"add rule inet kubeplay-pod-ports {chain} fib daddr type local udp dport 41002 redirect to :53" in script
        assert f"{chain} fib daddr type local udp dport 5300 redirect to :53" in script
    assert script.count("dport 41002") == 2


def test_slirp_forwards_declared_ports_from_loopback_and_opens_host_loopback_only_when_asked() -> None:
    requests = network.hostfwd_requests([], (network.LoopbackForward("TCP", 8080, 41001),))
    assert requests == [{"execute": "add_hostfwd", "arguments": {
        "proto": "tcp", "host_addr": "127.0.0.1", "host_port": 41001, "guest_addr": "10.0.2.100", "guest_port": 8080}}]
    assert "--disable-host-loopback" in network.slirp_argv("slirp4netns", Path("/ns"), Path("/api"), 3)
    assert "--disable-host-loopback" not in network.slirp_argv("slirp4netns", Path("/ns"), Path("/api"), 3,
                                                               host_loopback=True)


def test_loopback_forwards_are_distinct_free_ports_one_per_declared_port() -> None:
    declared = [PortMapping(8080), PortMapping(8080), PortMapping(8080, "UDP"), PortMapping(9090, host_port=30000)]
    forwards = network.loopback_forwards(declared)
    assert [(f.protocol, f.container_port) for f in forwards] == [("TCP", 8080), ("UDP", 8080), ("TCP", 9090)]
    assert len({f.host_port for f in forwards}) == 3 and all(f.host_port > 0 for f in forwards)


def test_forwards_file_round_trips_and_is_gone_after_teardown(tmp_path: Path) -> None:
    (tmp_path / "netns").mkdir()
    forwards = network.Forwards("192.0.2.1", (network.LoopbackForward("TCP", 8080, 41001),))
    network._write_forwards(tmp_path, "pod1", forwards)
    assert network.read_forwards(tmp_path, "pod1") == forwards
    assert forwards.host_port("TCP", 8080) == 41001 and forwards.host_port("UDP", 8080) is None
    network.teardown(tmp_path, "pod1")
    assert network.read_forwards(tmp_path, "pod1") is None


def test_node_port_goes_to_the_first_pod_and_a_gone_pod_leaves_it_free(tmp_path: Path) -> None:
    (tmp_path / "netns").mkdir()
    for pod_id in ("a", "b"):
        network.netns_path(tmp_path, pod_id).touch()  # their namespaces exist
    assert network.claim_node_port(tmp_path, "a", "TCP", 30080)
    assert not network.claim_node_port(tmp_path, "b", "TCP", 30080)
    assert network.claim_node_port(tmp_path, "b", "UDP", 30080)  # another protocol is another port
    assert network.node_port_holder(tmp_path, "TCP", 30080) == "a"
    network.netns_path(tmp_path, "a").unlink()  # pod a went away without its teardown
    assert network.node_port_holder(tmp_path, "TCP", 30080) == ""
    assert network.claim_node_port(tmp_path, "b", "TCP", 30080)
    network.release_node_ports(tmp_path, "b")
    assert list((tmp_path / "netns").glob("nodeport-*")) == []


def test_node_port_below_the_unprivileged_start_names_the_field_and_the_sysctl() -> None:
    with pytest.raises(UserError) as caught:
        network.check_service_port("svc.yaml:3 spec.ports[0].nodePort", 30080, start=31000)
    assert "spec.ports[0].nodePort" in caught.value.message and "ip_unprivileged_port_start (31000)" in caught.value.message
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start=30080" in caught.value.hint
    network.check_service_port("x", 31000, start=31000)

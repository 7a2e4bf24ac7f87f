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
    assert ("-u", "5353:53") in pairs
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

"""The Service connect hook's programs and map layout (net/socketlb.py)."""

from __future__ import annotations

import os
import socket
import struct

import pytest

from kubeplay.net import socketlb

JUMPS = {0x15, 0x55, 0x5D}  # the jump opcodes the programs use (jeq, jne against an immediate, jne registers)


def instructions(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("<BBhi", code, offset) for offset in range(0, len(code), 8)]


@pytest.mark.parametrize("code", [socketlb.connect_program(3, 4), socketlb.peer_program(4),
                                  socketlb.connect_program(3, 4, family=6), socketlb.peer_program(4, family=6)],
                         ids=["connect4", "getpeername4", "connect6", "getpeername6"])
def test_every_jump_lands_on_the_closing_return_of_one(code):
    listed = instructions(code)
    closing = len(listed) - 2
    assert listed[closing][0] == 0xB7 and listed[closing][3] == 1 and listed[-1][0] == 0x95
    jumps = [(index, offset) for index, (opcode, _, offset, _) in enumerate(listed) if opcode in JUMPS]
    assert jumps and all(index + 1 + offset == closing for index, offset in jumps)


def test_an_ipv4_mapped_address_is_what_the_ipv6_programs_look_for():
    mapped = socket.inet_pton(socket.AF_INET6, "::ffff:10.96.0.10")
    words = struct.unpack("<4I", mapped)  # as the program reads user_ip6, word by word
    assert [word & 0xFFFFFFFF for word in socketlb._MAPPED_PREFIX] == list(words[:3])
    assert struct.pack("<I", words[3]) == socket.inet_aton("10.96.0.10")


def test_map_uses_are_the_maps_given():
    loads = [imm for opcode, regs, _, imm in instructions(socketlb.connect_program(7, 9)) if opcode == 0x18]
    assert loads == [7, 9]
    assert [imm for opcode, _, _, imm in instructions(socketlb.peer_program(9)) if opcode == 0x18] == [9]
    assert [imm for opcode, _, _, imm in instructions(socketlb.connect_program(7, 9, family=6)) if opcode == 0x18] == [7, 9]


def test_entries_are_addresses_in_network_order_as_the_socket_has_them():
    key = socketlb.map_key("10.96.0.10", 80)
    assert key[:4] == bytes([10, 96, 0, 10]) and key[4:6] == bytes([0, 80])  # the port as __be16
    assert socketlb.text_of(key) == "10.96.0.10:80"
    assert len(key) == socketlb.ADDRESS_SIZE
    value = socketlb.map_value([("10.89.0.2", 8080), ("10.89.0.3", 8080), ("10.89.0.2", 8080)])
    assert len(value) == socketlb.VALUE_SIZE
    assert struct.unpack_from("=I", value)[0] == 2  # the same endpoint once
    assert [socketlb.text_of(value[8 + 8 * i:16 + 8 * i]) for i in range(2)] == ["10.89.0.2:8080", "10.89.0.3:8080"]


def test_the_pods_cgroup_is_the_runtime_parent_of_every_pod():
    from kubeplay.oci.cgroups import CGROUP_PREFIX

    assert CGROUP_PREFIX == "/" + socketlb.PODS_CGROUP


@pytest.mark.skipif(os.geteuid() != 0 or not socketlb.bpf.available(), reason="loading a bpf program needs root")
def test_the_kernel_verifier_accepts_both_programs():
    assert socketlb.load_problem() is None


def test_the_tcp_cluster_ports_are_read_from_the_rules_whatever_the_element_shape():
    from kubeplay.net.services import tcp_cluster_ports

    objects = [{"map": {"name": "service-ports", "elem": [[{"concat": ["tcp", 30080]}, {"goto": {"target": "svc-a"}}]]}},
               {"map": {"name": "service-ips", "elem": [
                   [{"concat": ["10.96.0.1", "tcp", 80]}, {"goto": {"target": "svc-web.default_p0"}}],
                   [{"concat": ["10.96.0.1", "udp", 53]}, {"goto": {"target": "svc-web.default_p1"}}],
                   [{"elem": {"val": {"concat": ["10.96.0.2", "tcp", 443]}, "comment": "x"}},
                    {"jump": {"target": "svc-api.default_p0"}}],
                   [{"concat": ["10.96.0.3", "tcp", "http"]}, {"goto": {"target": "svc-odd.default_p0"}}],
                   "not an element"]}}]
    assert tcp_cluster_ports(objects) == [("10.96.0.1", 80, "svc-web.default_p0"),
                                          ("10.96.0.2", 443, "svc-api.default_p0")]

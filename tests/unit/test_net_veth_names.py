"""The names and addresses a pod's veth gets: fixed by what they stand for, never random."""

from __future__ import annotations

from kubeplay.net.veth import host_veth_name, pod_mac


def test_the_pod_mac_is_made_from_its_address_and_is_locally_administered_unicast():
    assert pod_mac("10.88.0.5") == "0a:58:0a:58:00:05"
    assert pod_mac("192.168.255.254") == "0a:58:c0:a8:ff:fe"
    first_octet = int(pod_mac("10.89.1.2").split(":")[0], 16)
    assert first_octet & 0b10 and not first_octet & 0b01  # locally administered, not multicast


def test_host_veth_names_fit_ifnamsiz_and_differ_between_stores():
    name = host_veth_name("a-pod-with-a-rather-long-name", "/var/lib/kubeplay")
    assert len(name) <= 15 and name.startswith("kpv")
    assert name != host_veth_name("a-pod-with-a-rather-long-name", "/tmp/other-store")
    assert name == host_veth_name("a-pod-with-a-rather-long-name", "/var/lib/kubeplay")

"""Checks play makes across the pods of one call, before anything is created."""

from __future__ import annotations

import pytest


def test_two_pods_of_one_play_cannot_share_a_host_port():
    from kubeplay.errors import ConflictError
    from kubeplay.model.plan import ContainerPlan, PodPlan, PortMapping
    from kubeplay.pods.play import check_batch_ports

    def pod(name, port, ip=""):
        return PodPlan(name=name, containers=(ContainerPlan(name="c", image="x", ports=(
            PortMapping(80, host_port=port, host_ip=ip),)),))

    check_batch_ports([pod("a", 8080), pod("b", 8081), pod("c", 9090)])
    check_batch_ports([pod("a", 8080, "127.0.0.1"), pod("b", 8080, "127.0.0.2")])
    with pytest.raises(ConflictError, match='"a" and "b" both ask for host port 8080/tcp'):
        check_batch_ports([pod("a", 8080), pod("b", 8080, "127.0.0.1")])

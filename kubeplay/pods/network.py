"""A pod's network, as the pod code sees it: set up before the infra starts, torn down after it stops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubeplay.model.plan import PodPlan
from kubeplay.pods.engine import Engine

DEFAULT_NETWORK = "kubeplay"


@dataclass(frozen=True)
class PodNet:
    netns: Path | None  # None: the host's network namespace
    ip: str
    network: str  # "" for host or none


def network_name(pod: PodPlan) -> str:
    if pod.host_network:
        return ""
    return pod.network or DEFAULT_NETWORK


def check_pod_ports(engine: Engine, pod: PodPlan) -> None:
    ports = list(pod.ports)
    if ports:
        from kubeplay.net.ports import check_ports

        check_ports(engine.db, ports, pod_name=pod.name, rootless=engine.settings.rootless)


def setup(engine: Engine, pod: PodPlan, pod_id: str) -> PodNet:
    if pod.host_network:
        return PodNet(None, "", "")
    from kubeplay.net.netns import create_netns

    netns = create_netns(engine.settings, pod_id)
    name = network_name(pod)
    if name == "none":
        return PodNet(netns, "", "none")
    try:
        from kubeplay.net.veth import attach_pod

        attached = attach_pod(engine.settings, engine.db, pod.name, netns, name)
        if pod.ports:
            from kubeplay.net.nftables import publish

            publish(pod.name, attached.ip, list(pod.ports))
    except BaseException:
        teardown(engine, pod, pod_id)
        raise
    return PodNet(netns, attached.ip, name)


def teardown(engine: Engine, pod: PodPlan, pod_id: str) -> None:
    """Symmetric to setup and safe on a half-made pod: each part removes only what exists."""
    if pod.host_network:
        return
    name = network_name(pod)
    if name != "none":
        from kubeplay.net.nftables import unpublish
        from kubeplay.net.veth import detach_pod

        if pod.ports:
            unpublish(pod.name)
        detach_pod(engine.settings, engine.db, pod.name, name)
    from kubeplay.net.netns import netns_path, remove_netns

    remove_netns(netns_path(engine.settings, pod_id))


def peers(engine: Engine, pod: PodPlan, network: str) -> list[tuple[str, str, str]]:
    """(name, namespace, ip) of the other pods on the same network, for /etc/hosts."""
    if not network or network == "none":
        return []
    result = []
    for record in engine.store.list_pods():
        if record.name != pod.name and record.ip and network_name(record.plan) == network:
            result.append((record.name, record.plan.namespace, record.ip))
    return result

"""A pod's network, as the pod code sees it: set up before the infra starts, torn down after it stops."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.model.plan import PodPlan
from kubeplay.pods.engine import Engine

DEFAULT_NETWORK = "kubeplay"
log = logging.getLogger(__name__)


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
    """Everything about the pod's network that can be refused before any of it is made: the network
    exists (the default one is made on first use), `none` publishes nothing, hostPorts are free."""
    name = network_name(pod)
    if name and name not in (DEFAULT_NETWORK, "none"):
        from kubeplay.net.networks import get_network

        get_network(engine.db, name)
    ports = list(pod.ports)
    if ports and name == "none":
        from kubeplay.errors import UserError

        first = ports[0]
        raise UserError(f"pod {pod.name!r} publishes hostPort {first.host_port}, but network none has no way in",
                        hint="play it on a network (drop --network none), or remove its hostPorts")
    if ports and engine.settings.rootless:
        from kubeplay.rootless.network import check_host_ports

        check_host_ports(pod.name, ports)  # names the sysctl that would allow a lower port
    if ports:
        from kubeplay.net.ports import check_ports

        check_ports(engine.db, ports, pod_name=pod.name, rootless=engine.settings.rootless)


def setup(engine: Engine, pod: PodPlan, pod_id: str) -> PodNet:
    started = time.monotonic()
    net = _setup(engine, pod, pod_id)
    # the network bench reads this line (`--log-level debug`): the cost of networking alone
    log.debug("pod %s: network set up in %.1f ms", pod.name, (time.monotonic() - started) * 1000)
    return net


def _setup(engine: Engine, pod: PodPlan, pod_id: str) -> PodNet:
    if pod.host_network:
        return PodNet(None, "", "")
    if engine.settings.rootless:
        from kubeplay.rootless.network import setup as rootless_setup

        # pasta/slirp4netns: each pod is alone behind its helper, so it has no peers to list
        attached = rootless_setup(engine.settings.runroot, pod_id, list(pod.ports),
                                  connected=network_name(pod) != "none")
        return PodNet(attached.netns, attached.ip, "")
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
    if engine.settings.rootless:
        from kubeplay.rootless.network import teardown as rootless_teardown

        rootless_teardown(engine.settings.runroot, pod_id)
        return
    name = network_name(pod)
    if name != "none":
        from kubeplay.net.nftables import unpublish
        from kubeplay.net.veth import detach_pod

        if pod.ports:
            unpublish(pod.name)
        detach_pod(engine.settings, engine.db, pod.name, name)
        refresh_peer_hosts(engine, name, leaving=pod.name)
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


def refresh_peer_hosts(engine: Engine, network: str, leaving: str = "") -> None:
    """Rewrite /etc/hosts of the running pods on `network`; `leaving` (a pod being removed, whose
    record still exists) is left out of everyone's file."""
    from kubeplay.pods.paths import PodPaths
    from kubeplay.pods.podfiles import refresh_hosts

    if not network or network == "none":
        return
    for record in engine.store.list_pods():
        if record.name == leaving or not record.ip or network_name(record.plan) != network:
            continue
        others = [peer for peer in peers(engine, record.plan, network) if peer[0] != leaving]
        try:
            refresh_hosts(record.plan, PodPaths(engine.settings, record.id), record.ip, others)
        except OSError as exc:  # a pod going away at the same moment: its file no longer matters
            log.debug("pod %s: /etc/hosts not refreshed: %s", record.name, exc)

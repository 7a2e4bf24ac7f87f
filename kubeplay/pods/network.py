"""A pod's network, as the pod code sees it: set up around the infra's start, torn down after it stops.

`begin_setup` makes the namespace (or takes the pinned one) and leases the address at once, and
attaches it to its bridge on a thread, begun at once or when the caller says, so the containers
can be created in the namespace meanwhile (their runtime calls are mostly waiting);
`PendingNet.wait` hands over the finished network before any member starts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.logs import get_logger
from kubeplay.model.plan import PodPlan
from kubeplay.names import pod_key as pod_key_of
from kubeplay.pods.engine import Engine

DEFAULT_NETWORK = "kubeplay"
log = get_logger(__name__)


@dataclass(frozen=True)
class PodNet:
    """A pod's network as the pod code sees it."""

    netns: Path | None  # None: the host's network namespace
    ip: str
    network: str  # "" for host or none


def network_name(pod: PodPlan) -> str:
    return _network_of(pod.network, pod.host_network)


def _network_of(network: str, host_network: bool) -> str:
    """The network a pod is on: "" for the host's, else its own or the default one."""
    return "" if host_network else network or DEFAULT_NETWORK


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
        raise UserError(f"pod \"{pod.name}\" publishes hostPort {first.host_port}, but network none has no way in",
                        hint="play it on a network (drop --network none), or remove its hostPorts")
    if ports and engine.settings.rootless:
        from kubeplay.rootless.network import check_host_ports

        check_host_ports(pod.name, ports)  # names the sysctl that would allow a lower port
    if ports:
        from kubeplay.net.nftables import pod_chain
        from kubeplay.net.ports import check_ports

        check_ports(engine.db, ports, pod_name=pod.key, own_chain=pod_chain(pod.key, port_scope(engine)),
                    rootless=engine.settings.rootless)
        if not engine.settings.rootless:
            from kubeplay.net.services import check_free_of_services

            check_free_of_services(ports, pod.name)  # a Service's nodePort or LoadBalancer port


def port_scope(engine: Engine) -> str:
    """The store's mark in the names of its pods' nft chains: none for the default store, whose
    chains keep their plain names (`pod-web`)."""
    from kubeplay.defaults import ROOT_GRAPH_ROOT
    from kubeplay.net.veth import veth_scope

    return "" if engine.settings.root == Path(ROOT_GRAPH_ROOT) else veth_scope(engine.settings)


ATTACH_TIMEOUT = 120.0  # seconds; far more than an attach takes even under heavy load, but bounded


class PendingNet:
    """A pod's network in the making: `netns` is usable at once, `wait` returns the attached network."""

    def __init__(self, netns: Path | None, done: PodNet | None = None, ip: str = "", attach=None) -> None:
        self.netns = netns
        self.ip = done.ip if done else ip  # leased before the attach starts: known at once
        self._net = done
        self._attach = attach  # the work still to do, on a thread once begun
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._begin_guard = threading.Lock()

    def begin(self) -> None:
        """Start the attach on its thread (once; later calls do nothing)."""
        with self._begin_guard:
            if self._attach is None or self._thread is not None:
                return
            attach = self._attach

            def body() -> None:
                try:
                    self._net = attach()
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                    self._error = exc

            self._thread = threading.Thread(target=body, name="kubeplay-attach", daemon=True)
            self._thread.start()

    def settle(self) -> None:
        """Wait for an attach begun, whatever its outcome (before a teardown may run)."""
        with self._begin_guard:
            thread = self._thread
        if thread is not None:
            thread.join(ATTACH_TIMEOUT)

    def wait(self) -> PodNet:
        self.begin()
        self.settle()
        if self._error is not None:
            raise self._error
        if self._net is None:
            from kubeplay.errors import HostError

            raise HostError(f"attaching network namespace {self.netns} did not finish in {ATTACH_TIMEOUT:.0f} s",
                            hint="the host may be overloaded; retry the play")
        return self._net


def setup(engine: Engine, pod: PodPlan, pod_id: str) -> PodNet:
    """The whole network at once (see begin_setup); a failure leaves nothing behind."""
    pending = begin_setup(engine, pod, pod_id)
    try:
        return pending.wait()
    except BaseException:
        teardown_pending(engine, pod, pod_id, pending)
        raise


def begin_setup(engine: Engine, pod: PodPlan, pod_id: str, netns: Path | None = None, *,
                attach_now: bool = True) -> PendingNet:
    """Make the pod's namespace now (or take `netns`, already pinned), lease its address, and attach
    it in the background: at once, or (attach_now=False) on `PendingNet.begin` or the first `wait`.
    The caller registers `teardown_pending` for undo right away: it waits for an attach begun
    before removing anything."""
    started = time.monotonic()
    if pod.host_network:
        return PendingNet(None, PodNet(None, "", ""))
    if engine.settings.rootless:
        from kubeplay.pods.rootlessroutes import node_ports_for, write_routes
        from kubeplay.rootless.network import setup as rootless_setup

        # pasta/slirp4netns: each pod is alone behind its helper, so it has no peers to list; its
        # declared ports are forwarded from the host's loopback for the Services (pods/rootlessroutes.py)
        declared = [port for container in pod.all_containers for port in container.ports]
        attached = rootless_setup(engine.settings.runroot, pod_id, list(pod.ports),
                                  connected=network_name(pod) != "none", declared=declared,
                                  node_ports=node_ports_for(engine, pod))
        try:
            write_routes(engine, only=pod_id)  # the Services reach this pod's containers from their start
        except BaseException:
            teardown(engine, pod, pod_id)
            raise
        return PendingNet(attached.netns, PodNet(attached.netns, attached.ip, ""))
    if netns is None:
        from kubeplay.net.netns import create_netns

        netns = create_netns(engine.settings, pod_id)
    name = network_name(pod)
    if name == "none":
        return PendingNet(netns, PodNet(netns, "", "none"))
    from kubeplay.net.veth import lease_address

    ip = lease_address(engine.db, pod.key, name, pod.static_ip)
    made = time.monotonic() - started  # the namespace and the lease; the attach adds its own time
    pending = PendingNet(netns, ip=ip, attach=lambda: _attach(engine, pod, netns, name, made))
    if attach_now:
        pending.begin()
    return pending


def _attach(engine: Engine, pod: PodPlan, netns: Path, name: str, made: float) -> PodNet:
    from kubeplay.net.veth import attach_pod

    begun = time.monotonic()
    attached = attach_pod(engine.settings, engine.db, pod.key, netns, name, mac=pod.mac_address)
    if pod.ports:
        from kubeplay.net.nftables import pod_chain, publish
        from kubeplay.net.ports import check_ports, claims_from_rules

        scope = port_scope(engine)
        ports = list(pod.ports)

        def still_free(objects: list[dict]) -> None:
            # again, under the host-wide lock: another play may have taken a port since the first check
            check_ports(claims_from_rules(objects), ports, pod_name=pod.key, own_chain=pod_chain(pod.key, scope),
                        rootless=False)

        publish(pod.key, attached.ip, ports, scope=scope, check=still_free)
    # the network bench reads this line (`--log-level debug`): the cost of networking alone, not
    # counting the time a deferred attach waited to begin
    log.debug("pod %s: network set up in %.1f ms", pod.key, (made + time.monotonic() - begun) * 1000)
    return PodNet(netns, attached.ip, name)


def teardown_pending(engine: Engine, pod: PodPlan, pod_id: str, pending: PendingNet) -> None:
    """Undo of begin_setup: let a running attach finish first, so nothing it makes is left behind."""
    pending.settle()
    teardown(engine, pod, pod_id)


def teardown(engine: Engine, pod: PodPlan, pod_id: str, *, refresh_peers: bool = True) -> None:
    """Symmetric to setup and safe on a half-made pod: each part removes only what exists.

    A caller removing many pods passes refresh_peers=False and calls refresh_peer_hosts once after."""
    if pod.host_network:
        _remove_pinned(engine, pod_id)  # its IPC namespace
        return
    if engine.settings.rootless:
        from kubeplay.rootless.network import teardown as rootless_teardown

        rootless_teardown(engine.settings.runroot, pod_id)
        return
    from kubeplay.cleanup import run_every_step

    name = network_name(pod)
    steps = []
    if name != "none":
        from kubeplay.net.nftables import unpublish
        from kubeplay.net.veth import detach_pod

        if pod.ports:
            steps.append(lambda: unpublish(pod.key, scope=port_scope(engine)))
    # The namespaces go first: once nothing holds the pod's network namespace, the kernel removes
    # its veth pair with it, and the detach need not ask for its removal.
    # A veth still there (something else holds the namespace) is deleted by the detach.
    steps.append(lambda: _remove_pinned(engine, pod_id))
    if name != "none":
        steps.append(lambda: detach_pod(engine.settings, engine.db, pod.key, name, namespace_released=True))
        if refresh_peers:
            steps.append(lambda: refresh_peer_hosts(engine, name, leaving={pod.key}))
    run_every_step(steps)  # a rule that cannot be removed must not keep the veth, lease or netns


def _remove_pinned(engine: Engine, pod_id: str) -> None:
    """The pod's netns, and its UTS and IPC namespaces when they were pinned too."""
    from kubeplay.net.netns import remove_pinned

    remove_pinned(engine.settings, pod_id)


def peers_among(addresses, pod_key: str, network: str, leaving: set[str] = frozenset()) -> list[tuple[str, str, str]]:
    """(name, namespace, ip) of the pods on `network` but the pod `pod_key` and those `leaving`
    (keys), from `addresses`: (name, namespace, ip, plan's network, plan's hostNetwork) as
    store.pod_addresses gives them."""
    if not network or network == "none":
        return []
    return [(name, namespace, ip) for name, namespace, ip, their_network, host_network in addresses
            if ip and _network_of(their_network, host_network) == network
            and pod_key_of(namespace, name) not in (pod_key, *leaving)]


def peers(engine: Engine, pod: PodPlan, network: str) -> list[tuple[str, str, str]]:
    """(name, namespace, ip) of the other pods on the same network, for /etc/hosts; read without
    decoding the other pods' plans (a play of many pods asks once per pod)."""
    if not network or network == "none":
        return []  # no need to read the store
    return peers_among(engine.store.pod_addresses(), pod.key, network)


def refresh_peer_hosts(engine: Engine, network: str, leaving: set[str] = frozenset(), services=None) -> None:
    """Rewrite /etc/hosts of the running pods on `network`; `leaving` (pods being removed, whose
    records may still exist) are left out of everyone's file. One listing serves every pod."""
    from kubeplay.pods.paths import PodPaths
    from kubeplay.pods.podfiles import refresh_hosts
    from kubeplay.pods.servicenames import ServiceNames

    if not network or network == "none":
        return
    addresses = engine.store.pod_addresses()
    services = services or ServiceNames(engine)
    if len(peers_among(addresses, "", network, leaving)) < 2 and not leaving and not services.records:
        return  # a pod alone on its network has no one to learn about (its file was written so)
    for record in engine.store.list_pods():  # the plans: aliases, hostname and subdomain of each file
        if record.name in leaving or not record.ip or network_name(record.plan) != network:
            continue
        # a rootless pod is alone behind its own helper: its peers' addresses would lead to itself
        others = [] if engine.settings.rootless else peers_among(addresses, record.name, network, leaving)
        try:
            refresh_hosts(record.plan, PodPaths(engine.settings, record.id), record.ip, others, services)
        except OSError as exc:  # a pod going away at the same moment: its file no longer matters
            log.debug("pod %s: /etc/hosts not refreshed: %s", record.name, exc)


def refresh_all_hosts(engine: Engine, leaving: set[str] = frozenset()) -> None:
    """Rewrite /etc/hosts of every running pod: after the Services, or a headless one's pods, changed."""
    from kubeplay.pods.servicenames import ServiceNames

    services = ServiceNames(engine)
    networks = {_network_of(network, host_network) for _, _, _, network, host_network in engine.store.pod_addresses()}
    for name in sorted(networks - {"", "none"}):
        refresh_peer_hosts(engine, name, leaving, services)

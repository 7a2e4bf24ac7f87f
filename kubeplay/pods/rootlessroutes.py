"""Service routes between a rootless user's pods, with no daemon and no shared namespace.

Each rootless pod sits alone in its own network namespace behind its own pasta (or slirp4netns),
so pod IPs lead nowhere (pasta gives every pod the host's address). What does connect them is the
host's loopback: each declared containerPort is forwarded from a free 127.0.0.1 port by the pod's
helper (rootless/network.py), and every pod reaches the host's loopback through its gateway. So
each pod's namespace holds its own small nft table (`inet kubeplay-pod-services`, the same chains
as the host's table as root) sending a cluster IP:port to the loopback forwards of the Service's
ready endpoints, spread with numgen. The pod whose helper publishes a Service's node port also
holds the rules spreading that port (pods/rootlessnodeports.py).

Whoever changes the endpoints (play, down, the exit callback, the probe monitor, a Service added
or removed) rewrites the tables of all the user's running pods from the store, under the user's
lock; a new pod gets its table before its containers start. The tables go with the namespaces.
"""

from __future__ import annotations

from kubeplay.logs import get_logger
from kubeplay.pods.engine import Engine
from kubeplay.pods.rootlessnodeports import published_ports

LOCK_TIMEOUT = 60.0
log = get_logger(__name__)


def write_routes(engine: Engine, only: str = "") -> None:
    """Rewrite the Service table of every running rootless pod of the store (only the pod with
    id `only`, when given) from the store's Services and pods."""
    from kubeplay.errors import HostError
    from kubeplay.filelock import locked

    runroot = engine.settings.runroot
    lock = runroot / "service-routes.lock"
    with locked(lock, LOCK_TIMEOUT, lambda: HostError(f"another kubeplay command holds {lock}",
                                                     hint="wait for it to finish, then retry")):
        _write_locked(engine, only)


def _write_locked(engine: Engine, only: str) -> None:
    from kubeplay.errors import HostError
    from kubeplay.model.endpoints import endpoints_of
    from kubeplay.net.services import pod_table_script
    from kubeplay.pods.rootlessnodeports import node_port_script, routes_for
    from kubeplay.rootless.network import (
        SLIRP_HOST_LOOPBACK,
        forwards_file,
        held_node_ports,
        load_nft,
        netns_path,
        read_forwards,
    )
    from kubeplay.store.services import ServiceStore

    runroot = engine.settings.runroot
    pods = engine.store.list_pods()
    # the store's own pods only: another store sharing this run root keeps its own routes
    clients = [only] if only else sorted(pod.id for pod in pods if forwards_file(runroot, pod.id).exists())
    if not clients:
        return
    store = ServiceStore(engine.db)
    records = [record for record in store.list() if not record.plan.headless] if store.any() else []
    settings = store.settings() if records else None
    forwards_of = {(pod.namespace, pod.name): read_forwards(runroot, pod.id) for pod in pods}
    by_id = {pod.id: pod for pod in pods}
    if not only:
        republish_node_ports(engine, records, pods)
    endpoints = [(record, endpoints_of(record, pods)) for record in records]
    for pod_id in clients:
        forwards = read_forwards(runroot, pod_id)
        if forwards is None:
            continue  # gone meanwhile
        if only and not records and forwards.gateway != SLIRP_HOST_LOOPBACK:
            continue  # a new pod with no Service to reach needs no table yet: adding one writes them all
        rules = [_rules(record, found, forwards.gateway, forwards_of) for record, found in endpoints]
        script = pod_table_script(rules, [settings.cidr] if settings else [],
                                  guarded=SLIRP_HOST_LOOPBACK if forwards.gateway == SLIRP_HOST_LOOPBACK else "")
        held = held_node_ports(runroot, pod_id)
        if held and pod_id in by_id:
            script += node_port_script(routes_for(by_id[pod_id], held, endpoints, forwards.gateway, forwards_of))
        try:
            load_nft(netns_path(runroot, pod_id), script, f"writing the Service routes of pod {pod_id[:12]}")
        except HostError:
            if read_forwards(runroot, pod_id) is None:
                continue  # the pod went away while its table was written
            raise


def republish_node_ports(engine: Engine, records, pods) -> None:
    """A node port whose holder went away is taken on by another running pod the Service selects
    whose helper can add a port while it runs (slirp4netns), ready pods first."""
    from kubeplay.model.endpoints import pod_ready, selected_pods
    from kubeplay.model.record import PodPhase
    from kubeplay.rootless.network import node_port_holder, read_forwards, republish_node_port

    runroot = engine.settings.runroot
    for record in records:
        for port, number in published_ports(record):
            if node_port_holder(runroot, port.protocol, number):
                continue
            candidates = [pod for pod in selected_pods(record, pods) if pod.phase is PodPhase.RUNNING
                          and _target_in_plan(port, pod.plan) is not None and read_forwards(runroot, pod.id)]
            candidates.sort(key=lambda pod: not pod_ready(pod))
            for pod in candidates:
                if republish_node_port(runroot, pod.id, port.protocol, number):
                    log.info("node port %s/%s published again by pod %s", number, port.protocol, pod.shown_name)
                    break


def _rules(record, endpoints, gateway: str, forwards_of):
    """The Service's rules as a pod whose gateway is `gateway` sees them: each ready endpoint is
    the loopback forward of its target port (an undeclared target port has none: skipped)."""
    from kubeplay.net.services import PortRules, ServiceRules, service_key

    ports = []
    for port, targets in zip(record.ports, endpoints.targets):
        reached = []
        for target in targets if gateway else ():  # no gateway (a host without a default route): refused
            forwards = forwards_of.get((record.namespace, target.pod))
            host_port = forwards.host_port(port.protocol, target.port) if forwards else None
            if host_port:
                reached.append((gateway, host_port))
        ports.append(PortRules(port.protocol, port.port, tuple(reached)))
    timeout = record.plan.affinity_timeout if record.plan.session_affinity == "ClientIP" else 0
    return ServiceRules(key=service_key(record.namespace, record.name), label=f"service {record.namespace}/{record.name}",
                        cluster_ip=record.cluster_ip, ports=tuple(ports), affinity_timeout=timeout)


def node_ports_for(engine: Engine, pod) -> list:
    """The host ports of the Services selecting this pod, for its helper to publish when no other
    pod does yet (pasta binds its ports when it starts and cannot add any later; slirp4netns can,
    see `republish_node_ports`)."""
    from kubeplay.model.endpoints import selects
    from kubeplay.model.plan import PortMapping
    from kubeplay.store.services import ServiceStore

    store = ServiceStore(engine.db)
    if not store.any():
        return []
    wanted = []
    for record in store.list():
        if record.namespace != pod.namespace or not selects(record.plan.selector, pod.labels):
            continue
        for port, number in published_ports(record):
            target = _target_in_plan(port, pod)
            if target is not None:
                # sent to the same number inside the pod, where its table spreads it (pods/rootlessnodeports.py)
                wanted.append(PortMapping(container_port=number, protocol=port.protocol, host_port=number))
    return wanted


def _target_in_plan(port, plan) -> int | None:
    if isinstance(port.target_port, int):
        return port.target_port
    for container in plan.all_containers:
        for declared in container.ports:
            if declared.name == port.target_port and (declared.protocol or "TCP") == port.protocol:
                return declared.container_port
    return None


def rootless_warnings(engine: Engine, records) -> list[str]:
    """What of these Services a rootless user's pods do not get, or get differently than as root."""
    from kubeplay.rootless.network import node_port_holder

    warnings = [f"Service {record.name} is headless (clusterIP: None): rootless pods all share the host's "
                "address, so neither its name nor its pods' HOSTNAME.SUBDOMAIN names are given to the pods; give "
                "it a clusterIP (leave clusterIP out): its name then reaches its ready pods through that address"
                for record in records if record.plan.headless]
    names = {pod.id: pod.shown_name for pod in engine.store.list_pods()}
    for record in records:
        for port, number in published_ports(record):
            holder = node_port_holder(engine.settings.runroot, port.protocol, number)
            if holder:
                warnings.append(f"Service {record.name}: {number}/{port.protocol} is published on the host by the "
                                f"network helper of pod {names.get(holder, holder[:12])}, which spreads it over the "
                                "Service's ready pods; it stays published while that pod exists (rootless, a "
                                "host port is bound by one pod's helper)")
            else:
                warnings.append(f"Service {record.name}: {number}/{port.protocol} is not published on the host: "
                                "rootless, a pod's helper publishes it when the pod starts, and no pod selected by "
                                "the Service started after it (`kubeplay play --replace FILE` restarts them)")
    return warnings + undeclared_targets(engine, records)


def unpublished_warnings(engine: Engine) -> list[str]:
    """The node ports (and LoadBalancer ports) of the store's Services that no pod's helper
    publishes any more while pods the Service selects are still there: their holder went away,
    and a pasta that runs cannot take on a port (slirp4netns can: see `republish_node_ports`)."""
    from kubeplay.model.endpoints import selected_pods
    from kubeplay.rootless.network import node_port_holder
    from kubeplay.store.services import ServiceStore

    store = ServiceStore(engine.db)
    if not store.any():
        return []
    pods = engine.store.list_pods()
    warnings = []
    for record in store.list():
        left = selected_pods(record, pods)
        for port, number in published_ports(record) if left else ():
            if not node_port_holder(engine.settings.runroot, port.protocol, number):
                warnings.append(f"Service {record.name}: {number}/{port.protocol} is no longer published on the host: "
                                "the pod whose network helper held it is gone, and the helpers of its other pods "
                                f"({', '.join(pod.shown_name for pod in left)}) cannot take on a port once started; "
                                "`kubeplay play --replace FILE` with the file of those pods publishes it again")
    return warnings


def undeclared_targets(engine: Engine, records) -> list[str]:
    """Warnings for Service ports whose target is not a declared containerPort of a selected pod:
    rootless, only declared ports are forwarded, so such a pod gets no traffic on that port."""
    from kubeplay.model.endpoints import selected_pods, target_port

    warnings = []
    pods = engine.store.list_pods()
    for record in records:
        for port in record.ports:
            for pod in selected_pods(record, pods):
                number = target_port(port, pod)
                declared = {(p.protocol or "TCP", p.container_port) for c in pod.plan.all_containers for p in c.ports}
                if number is not None and (port.protocol, number) not in declared:
                    warnings.append(f"Service {record.name}: port {port.port} targets {number}/{port.protocol}, which "
                                    f"pod {pod.shown_name} does not declare in containerPorts; rootless, only declared "
                                    "ports are reachable through a Service")
                    break
    return warnings

"""Service endpoints follow the pods, with no daemon: whichever short process changed pods (play,
down, `--replace`, `pod rm/stop/start`, the exit callback, a restart) calls `pods_changed`, which
recomputes the endpoints of the Services selecting those pods from the store and rewrites their
rules as a whole, under the host-wide network lock. The store is the truth; `sync` rebuilds the
rules of any Service from it.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubeplay.logs import get_logger
from kubeplay.model.endpoints import endpoints_of, selects
from kubeplay.model.plan import PodPlan
from kubeplay.model.service import Endpoints, ServiceRecord
from kubeplay.pods.engine import Engine
from kubeplay.store.services import ServiceStore

log = get_logger(__name__)


def rules_of(record: ServiceRecord, endpoints: Endpoints, scope: str):
    """The nft rules of a Service with these endpoints."""
    from kubeplay.net.services import PortRules, ServiceRules, service_key

    ports = []
    for port, targets in zip(record.ports, endpoints.targets):
        published = [port.node_port] if port.node_port else []
        if record.type == "LoadBalancer":
            published.append(port.port)  # as a load balancer in front of the node would answer
        ports.append(PortRules(port.protocol, port.port, tuple((t.ip, t.port) for t in targets),
                               tuple(dict.fromkeys(published))))
    timeout = record.plan.affinity_timeout if record.plan.session_affinity == "ClientIP" else 0
    return ServiceRules(key=service_key(record.namespace, record.name, scope),
                        label=f"service {record.namespace}/{record.name}", cluster_ip=record.cluster_ip,
                        ports=tuple(ports), affinity_timeout=timeout)


def store_scope(engine: Engine) -> str:
    from kubeplay.pods.network import port_scope

    return port_scope(engine)


def routes_services(engine: Engine) -> bool:
    """The host's table is written by root only: a rootless user's pods each sit behind their own
    forwarder, and get their routes in their own namespaces (pods/rootlessroutes.py)."""
    return not engine.settings.rootless


def sync(engine: Engine, keys: Iterable[tuple[str, str]] | None = None) -> None:
    """Rewrite the rules of the Services `keys` ((namespace, name); all when None) from the store."""
    if engine.settings.rootless:
        from kubeplay.pods.rootlessroutes import write_routes

        write_routes(engine)  # each pod holds every Service of the store: all tables, whatever the keys
        return
    if not routes_services(engine):
        return
    from kubeplay.net.hostlock import network_lock
    from kubeplay.net.services import write_services

    wanted = None if keys is None else set(keys)
    with network_lock():  # read the store under the lock: the last writer wrote the latest state
        store = ServiceStore(engine.db)
        records = [r for r in store.list() if wanted is None or r.plan.key in wanted]
        if not records:
            return
        settings = store.settings()
        pods = engine.store.list_pods()
        scope = store_scope(engine)
        written = [rules_of(record, endpoints_of(record, pods), scope) for record in records]
        write_services([(rules.key, rules) for rules in written], [settings.cidr] if settings else [])
    forget_udp_flows(written)


def forget_udp_flows(written) -> None:
    """UDP flows still sent to an endpoint these Services no longer have are forgotten, so that the
    next packet takes the new rules; a failure is a warning (the rules themselves are right)."""
    from kubeplay.errors import KubeplayError
    from kubeplay.net.conntrack import UdpService, forget_stale_udp

    udp = [UdpService(rules.cluster_ip, port.port, port.host_ports, frozenset(ip for ip, _ in port.targets))
           for rules in written for port in rules.ports if port.protocol == "UDP"]
    try:
        forget_stale_udp(udp)
    except KubeplayError as exc:
        log.warning("%s", exc.message)


def affected(records: list[ServiceRecord], plans: Iterable[PodPlan]) -> list[ServiceRecord]:
    """The Services whose selector matches any of these pods."""
    plans = list(plans)
    return [record for record in records
            if any(plan.namespace == record.namespace and selects(record.plan.selector, plan.labels) for plan in plans)]


def pods_changed(engine: Engine, plans: Iterable[PodPlan]) -> list[ServiceRecord]:
    """Pods were made, removed, stopped or started: rewrite the rules of the Services that select
    them, and the names of headless ones in every pod. Returns those Services."""
    store = ServiceStore(engine.db)
    if not store.any():
        return []  # the common case costs one query
    records = affected(store.list(), plans)
    if not records:
        return []
    sync(engine, [record.plan.key for record in records])
    if any(record.plan.headless for record in records):
        from kubeplay.pods.network import refresh_all_hosts

        refresh_all_hosts(engine)
    return records


def container_changed(engine: Engine, container_id: str) -> None:
    """The exit callback's and the restart's hook: a container of a running pod ended or started
    again. A pod being removed (Stopped) is left to the command removing it."""
    from kubeplay.model.record import PodPhase

    store = ServiceStore(engine.db)
    if not store.any():
        return
    record = engine.store.get_container(container_id)
    if record is None:
        return
    pod = engine.store.find_pod(record.pod)
    if pod is None or pod.phase is PodPhase.STOPPED:
        return
    try:
        pods_changed(engine, [pod.plan])
    except Exception as exc:  # noqa: BLE001 - the exit is recorded; the next change rewrites the rules
        log.warning("pod %s: Service rules not rewritten: %s", pod.name, exc)


def endpoints_by_service(engine: Engine, records: list[ServiceRecord]) -> dict[tuple[str, str], Endpoints]:
    """Each Service's endpoints now, for listings."""
    if not records:
        return {}
    pods = engine.store.list_pods()
    return {record.plan.key: endpoints_of(record, pods) for record in records}

"""Making and removing Services: the store's service range, cluster IPs and node ports given out
once and checked against everything on the host that could hold them, the rules written.

Cluster IPs come from one range per store (KUBEPLAY_SERVICE_CIDR, else the first of 10.96.0.0/16,
10.97.0.0/16, ... that no host route and no kubeplay network touches), fixed with the first
Service. Several stores share the host: an address or port another store's Service holds is read
from nft, which every store writes, under the host-wide network lock.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from kubeplay.controllers.endpoints import routes_services, store_scope, sync
from kubeplay.errors import ConflictError, UserError
from kubeplay.logs import get_logger
from kubeplay.model.service import NODE_PORT_RANGE, ServicePlan, ServicePort, ServiceRecord
from kubeplay.pods.engine import Engine
from kubeplay.store.services import ServiceSettings, ServiceStore, Taken

SERVICE_CIDR_ENV = "KUBEPLAY_SERVICE_CIDR"
CANDIDATE_RANGES = tuple(f"10.{second}.0.0/16" for second in range(96, 112))
log = get_logger(__name__)


def store_settings(engine: Engine) -> ServiceSettings:
    """The store's service range and cluster domain: chosen and fixed with its first Service."""
    store = ServiceStore(engine.db)
    fixed = store.settings()
    if fixed:
        return fixed
    from kubeplay.pods.servicenames import wanted_cluster_domain

    domain = wanted_cluster_domain()
    from kubeplay.translate.checks import dns_subdomain_problem

    if problem := dns_subdomain_problem(domain):
        raise UserError(f"cluster domain {problem}", hint="set KUBEPLAY_CLUSTER_DOMAIN to a DNS name such as cluster.local")
    return store.fix_settings(ServiceSettings(_choose_range(engine), domain))


def _choose_range(engine: Engine) -> str:
    from kubeplay.net.subnets import find_overlap, host_routes, parse_subnet
    from kubeplay.store.network import list_network_records

    networks = [(record.name, record.subnet) for record in list_network_records(engine.db)]
    routes = host_routes()
    wanted = os.environ.get(SERVICE_CIDR_ENV, "").strip()
    if wanted:
        subnet = parse_subnet(wanted)
        holder = find_overlap(subnet, networks, routes)
        if holder:
            raise ConflictError(f"the service range {subnet} ({SERVICE_CIDR_ENV}) overlaps {holder}",
                                hint="choose a range that no kubeplay network or host route uses (see `ip route`)")
        return str(subnet)
    for candidate in CANDIDATE_RANGES:
        if find_overlap(ipaddress.ip_network(candidate), networks, routes) is None:
            return candidate
    raise ConflictError(f"no free service range among {CANDIDATE_RANGES[0]}-{CANDIDATE_RANGES[-1]}",
                        hint=f"set {SERVICE_CIDR_ENV} to a free range, e.g. 172.30.0.0/16")


@dataclass(frozen=True)
class HostView:
    """What other stores and pods hold on the host, read once under the network lock."""

    cluster_ips: dict[str, str]  # ip -> holder
    service_ports: dict[tuple[str, int], str]  # (protocol, port) -> holder
    pod_ports: dict[tuple[str, int], str]  # (protocol, port) -> pod publishing it as a hostPort
    rootless: bool = False  # host ports are then published by a pod's helper, above the unprivileged start


def _host_view(engine: Engine) -> HostView:
    if not routes_services(engine):
        return HostView({}, {}, {}, rootless=engine.settings.rootless)
    from kubeplay.net.ports import published_claims
    from kubeplay.net.services import held_cluster_ips, held_host_ports, read_table

    objects = read_table()
    return HostView(
        cluster_ips={ip: held.holder for ip, held in held_cluster_ips(objects).items()},
        service_ports={key: held.holder for key, held in held_host_ports(objects).items()},
        pod_ports={(claim.protocol, claim.host_port): claim.pod_name for claim in published_claims()},
    )


def _check_rootless_ports(plan: ServicePlan, index: int, port: ServicePort, node_port: int) -> None:
    """Rootless, a pod's helper publishes the port: not below net.ipv4.ip_unprivileged_port_start."""
    from kubeplay.rootless.network import check_service_port

    if node_port:
        check_service_port(plan.where(f"spec.ports[{index}].nodePort"), node_port)
    if plan.type == "LoadBalancer":
        check_service_port(plan.where(f"spec.ports[{index}].port") + " (a LoadBalancer's port, published on the host)",
                           port.port)


def check_new(engine: Engine, plans: list[ServicePlan], replace: bool) -> None:
    """Refusals that need nothing allocated, before any pod or Service is made."""
    store = ServiceStore(engine.db)
    for plan in plans:
        if engine.settings.rootless and plan.type in ("NodePort", "LoadBalancer"):
            for index, port in enumerate(plan.ports):
                _check_rootless_ports(plan, index, port, port.node_port)
        if not replace and store.find(*plan.key):
            raise ConflictError(f'Service "{plan.name}" already exists in namespace {plan.namespace}',
                                hint="`kubeplay apply -f FILE` changes it in place; `kubeplay play --replace` "
                                     "makes it again")


def add_services(engine: Engine, plans: list[ServicePlan], *, replace: bool = False) -> list[ServiceRecord]:
    """Store each Service with its cluster IP and node ports, and write its rules; all or none.
    With `replace`, an existing Service of the same name is replaced, keeping its addresses."""
    if not plans:
        return []
    check_new(engine, plans, replace)
    settings = store_settings(engine)
    store = ServiceStore(engine.db)
    made: list[ServiceRecord] = []
    from kubeplay.net.hostlock import network_lock

    with network_lock():  # what the host holds must not change between the check and the rules
        previous = {plan.key: store.find(*plan.key) for plan in plans}
        _drop(engine, [key for key, record in previous.items() if record is not None])  # only with replace
        view = _host_view(engine)
        try:
            for plan in plans:
                made.append(store.add(plan, _allocator(settings, view, previous[plan.key])))
            sync(engine, [record.plan.key for record in made])
        except BaseException:
            remove_services(engine, [record.plan.key for record in made], refresh_names=False)
            raise
    return made


def _allocator(settings: ServiceSettings, view: HostView, previous: ServiceRecord | None):
    def allocate(plan: ServicePlan, taken: Taken) -> tuple[str, tuple[ServicePort, ...]]:
        return _cluster_ip(plan, settings, taken, view, previous), _ports(plan, taken, view, previous)

    return allocate


def _cluster_ip(plan: ServicePlan, settings: ServiceSettings, taken: Taken, view: HostView,
                previous: ServiceRecord | None) -> str:
    if plan.headless:
        return ""
    network = ipaddress.ip_network(settings.cidr)
    if plan.cluster_ip:
        address = ipaddress.ip_address(plan.cluster_ip)
        if address not in network or address in (network.network_address, network.broadcast_address):
            raise UserError(f"{plan.where('spec.clusterIP')}: {plan.cluster_ip} is not in the service range {network}",
                            hint=f"leave clusterIP out to get a free address, or pick one in {network}")
        holder = taken.cluster_ips.get(plan.cluster_ip) or view.cluster_ips.get(plan.cluster_ip)
        if holder:
            raise ConflictError(f"{plan.where('spec.clusterIP')}: {plan.cluster_ip} is already the address of "
                                f"Service {holder}", hint="leave clusterIP out to get a free address")
        return plan.cluster_ip
    used = set(taken.cluster_ips) | set(view.cluster_ips)
    if previous and previous.cluster_ip and previous.cluster_ip not in used \
            and ipaddress.ip_address(previous.cluster_ip) in network:
        return previous.cluster_ip  # a replaced Service keeps its address
    for address in network.hosts():
        if str(address) not in used:
            return str(address)
    raise ConflictError(f"no free address left in the service range {network}",
                        hint="remove Services you no longer need (`kubeplay services`)")


def _ports(plan: ServicePlan, taken: Taken, view: HostView, previous: ServiceRecord | None) -> tuple[ServicePort, ...]:
    if plan.type not in ("NodePort", "LoadBalancer"):
        return plan.ports
    claimed: set[tuple[str, int]] = set()
    given = []
    for index, port in enumerate(plan.ports):
        node_port = port.node_port
        if node_port:
            _check_host_port(plan, f"spec.ports[{index}].nodePort", port.protocol, node_port, taken, view, claimed)
        else:
            node_port = _free_node_port(port, taken, view, claimed, previous)
        if view.rootless:
            _check_rootless_ports(plan, index, port, node_port)
        claimed.add((port.protocol, node_port))
        if plan.type == "LoadBalancer" and (port.protocol, port.port) not in claimed:
            _check_host_port(plan, f"spec.ports[{index}].port", port.protocol, port.port, taken, view, claimed)
            claimed.add((port.protocol, port.port))
        given.append(ServicePort(port.port, port.target_port, port.protocol, port.name, node_port))
    return tuple(given)


def _holder_of(protocol: str, number: int, taken: Taken, view: HostView, claimed: set[tuple[str, int]]) -> str:
    """Who holds a host port, in words; "" when it is free (a program on the host is not looked at)."""
    key = (protocol, number)
    if key in claimed:
        return "another port of this Service"
    if key in taken.host_ports:
        return f"Service {taken.host_ports[key]}"
    if key in view.service_ports:
        return f"Service {view.service_ports[key]}"
    if key in view.pod_ports:
        return f"the hostPort of pod {view.pod_ports[key]}"
    return ""


def _check_host_port(plan: ServicePlan, path: str, protocol: str, number: int, taken: Taken, view: HostView,
                     claimed: set[tuple[str, int]]) -> None:
    holder = _holder_of(protocol, number, taken, view, claimed)
    if holder:
        raise ConflictError(f"{plan.where(path)}: {number}/{protocol} is already published by {holder}",
                            hint="choose another port, or leave nodePort out to get a free one")
    program = _host_program(protocol, number)
    if program:
        raise ConflictError(f"{plan.where(path)}: {number}/{protocol} is in use on the host by {program}",
                            hint="stop that program, or choose another port")


def _host_program(protocol: str, number: int) -> str:
    """The program on the host bound to the port (found by trying to bind it), or "" when free."""
    import errno
    import socket

    from kubeplay.net.ports import socket_owner

    kind = socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers hold nothing
        try:
            probe.bind(("0.0.0.0", number))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return socket_owner(protocol, number) or "another program"
            return f"the host ({exc.strerror})"
    return ""


def _free_node_port(port: ServicePort, taken: Taken, view: HostView, claimed: set[tuple[str, int]],
                    previous: ServiceRecord | None) -> int:
    low, high = NODE_PORT_RANGE
    candidates = []
    if previous:
        candidates += [p.node_port for p in previous.ports
                       if p.node_port and (p.port, p.protocol) == (port.port, port.protocol)]
    candidates += range(low, high + 1)
    for number in candidates:
        if not _holder_of(port.protocol, number, taken, view, claimed) and not _host_program(port.protocol, number):
            return number
    raise ConflictError(f"no free node port left in {low}-{high}", hint="remove Services you no longer need")


def remove_services(engine: Engine, keys: list[tuple[str, str]], *, refresh_names: bool = True) -> list[str]:
    """Remove Services (store and rules); returns "namespace/name" of those that existed."""
    removed = _drop(engine, keys)
    ServiceStore(engine.db).clear_settings_if_unused()
    if removed and refresh_names:
        from kubeplay.pods.network import refresh_all_hosts

        refresh_all_hosts(engine)
    return removed


def _drop(engine: Engine, keys: list[tuple[str, str]]) -> list[str]:
    store = ServiceStore(engine.db)
    removed = [f"{namespace}/{name}" for namespace, name in keys if store.remove(namespace, name)]
    if engine.settings.rootless and removed:
        from kubeplay.pods.rootlessroutes import write_routes

        write_routes(engine)
    if routes_services(engine) and keys:
        from kubeplay.net.services import remove_table_if_unused, service_key, write_services

        scope = store_scope(engine)
        write_services([(service_key(namespace, name, scope), None) for namespace, name in keys])
        remove_table_if_unused()
    return removed


def warnings_for(engine: Engine, records: list[ServiceRecord]) -> list[str]:
    """Services that select no pod at all (Kubernetes allows it; it is usually a typo)."""
    from kubeplay.model.endpoints import selected_pods

    if not records:
        return []
    pods = engine.store.list_pods()
    return [f"Service {record.name} selects no pods (selector {_selector_text(record)}): "
            "connections to it are refused until such pods run"
            for record in records if record.plan.selector and not selected_pods(record, pods)]


def _selector_text(record: ServiceRecord) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(record.plan.selector.items())) or "none"

"""Service documents as ServicePlans, checked the way the API server checks them.

Types and enums were checked by validation; here: port numbers and names, targetPort, protocol,
nodePort range, duplicate ports, clusterIP, type combinations, session affinity. Whether a clusterIP
is inside kubeplay's service range, or a nodePort is free, is known only when the Service is made;
the plan keeps `file:line` of those fields so those errors point into the manifest too.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kubeplay.model.plan import SourcePlan
from kubeplay.model.service import DEFAULT_AFFINITY_TIMEOUT, NODE_PORT_RANGE, ServicePlan, ServicePort
from kubeplay.translate.checks import label_problem, port_name_problem
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import line_of

MAX_AFFINITY_TIMEOUT = 86400  # seconds, the API server's limit
# fields whose Kubernetes default is all kubeplay does; another value is named in a warning
DEFAULT_ONLY = {
    "externalTrafficPolicy": ("Cluster", "traffic to a nodePort is spread over every endpoint"),
    "internalTrafficPolicy": ("Cluster", "traffic to the cluster IP is spread over every endpoint"),
    "ipFamilyPolicy": ("SingleStack", "Services are IPv4 only"),
}


class _Reader:
    """One Service document being read: where problems go, and the lines of fields to remember."""

    def __init__(self, doc: Document, issues: Issues) -> None:
        self.doc, self.issues = doc, issues
        self.ok = True
        self.lines: dict[str, str] = {}

    def error(self, container: Any, key: Any, path: str, message: str) -> None:
        self.ok = False
        self.issues.error(self.doc.file, line_of(container, key) or self.doc.line, path, message)

    def warn(self, container: Any, key: Any, path: str, message: str) -> None:
        self.issues.warn(self.doc.file, line_of(container, key) or self.doc.line, path, message)

    def lenient(self, container: Any, key: Any, path: str, message: str) -> None:
        self.issues.lenient(self.doc.file, line_of(container, key) or self.doc.line, path, message)

    def remember(self, container: Any, key: Any, path: str) -> None:
        self.lines[path] = f"{self.doc.file}:{line_of(container, key) or self.doc.line}"


def service_plan(doc: Document, namespace: str, issues: Issues) -> ServicePlan | None:
    """The Service of a validated document; None (with the reasons in `issues`) if it cannot be made."""
    reader = _Reader(doc, issues)
    metadata = doc.body.get("metadata") or {}
    spec = doc.body.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        reader.lenient(spec, "type", "spec.type",
                       f"kubeplay does not support ExternalName Services; {metadata.get('name')} was skipped")
        spec.get("externalName")
        return None
    headless, cluster_ip = _cluster_ip(reader, spec, kind)
    selector = _selector(reader, spec)
    ports = _ports(reader, spec, kind, headless)
    affinity, timeout = _affinity(reader, spec)
    _defaults_only(reader, spec)
    if not reader.ok:
        return None
    return ServicePlan(
        name=metadata.get("name"), namespace=namespace, type=kind, headless=headless, cluster_ip=cluster_ip,
        selector=selector, ports=ports, session_affinity=affinity, affinity_timeout=timeout,
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
        labels=dict((metadata.get("labels") or {}).items()),
        annotations=dict((metadata.get("annotations") or {}).items()),
        source=SourcePlan(file=doc.file, document=doc.index), lines=reader.lines,
    )


def _cluster_ip(reader: _Reader, spec: Any, kind: str) -> tuple[bool, str]:
    value = spec.get("clusterIP") or ""
    listed = list(spec.get("clusterIPs") or ())
    if listed and value and listed[0] != value:
        reader.error(spec, "clusterIPs", "spec.clusterIPs", f'the first entry must be clusterIP ("{value}")')
    value = value or (listed[0] if listed else "")
    if len(listed) > 1:
        reader.warn(spec, "clusterIPs", "spec.clusterIPs", "Services are IPv4 only: only the first address is used")
    if value == "None":
        if kind != "ClusterIP":
            reader.error(spec, "clusterIP", "spec.clusterIP", f'a {kind} Service cannot be headless ("None")')
        return True, ""
    if value:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            reader.error(spec, "clusterIP", "spec.clusterIP", f'"{value}" is not an IPv4 address, "None" or ""')
            return False, ""
        if address.version != 4:
            reader.error(spec, "clusterIP", "spec.clusterIP", f"{value} is IPv6; Services are IPv4 only")
        reader.remember(spec, "clusterIP", "spec.clusterIP")
    return False, value


def _selector(reader: _Reader, spec: Any) -> dict[str, str]:
    selector = spec.get("selector") or {}
    if not selector:
        reader.warn(spec, "selector", "spec.selector", "not set: the Service selects no pods, so nothing answers on it "
                    "(kubeplay has no Endpoints objects to fill in by hand)")
    for key, value in dict.items(selector):
        if problem := label_problem(str(key), str(value)):
            reader.error(selector, key, "spec.selector", problem)
    return {str(key): str(value) for key, value in selector.items()}


def _ports(reader: _Reader, spec: Any, kind: str, headless: bool) -> tuple[ServicePort, ...]:
    items = spec.get("ports") or []
    if not items and not headless:
        reader.error(spec, "ports", "spec.ports", "at least one port is required (only a headless Service may have none)")
    names: dict[str, int] = {}
    seen: dict[tuple[int, str], int] = {}
    node_ports: dict[tuple[int, str], int] = {}
    ports = []
    for index, item in enumerate(items):
        path = f"spec.ports[{index}]"
        port = _port(reader, item, path, kind, len(items))
        if port is None:
            continue
        if port.name in names:
            reader.error(item, "name", f"{path}.name",
                         f'"{port.name}" is also the name of spec.ports[{names[port.name]}]; port names must be unique')
        names[port.name] = index
        if (port.port, port.protocol) in seen:
            reader.error(item, "port", f"{path}.port",
                         f"{port.port}/{port.protocol} is also spec.ports[{seen[port.port, port.protocol]}]")
        seen[port.port, port.protocol] = index
        if port.node_port:
            if (port.node_port, port.protocol) in node_ports:
                reader.error(item, "nodePort", f"{path}.nodePort",
                             f"{port.node_port}/{port.protocol} is also the nodePort of "
                             f"spec.ports[{node_ports[port.node_port, port.protocol]}]")
            node_ports[port.node_port, port.protocol] = index
            reader.remember(item, "nodePort", f"{path}.nodePort")
        elif kind == "LoadBalancer":
            reader.remember(item, "port", f"{path}.port")
        ports.append(port)
    return tuple(ports)


def _port(reader: _Reader, item: Any, path: str, kind: str, count: int) -> ServicePort | None:
    number = item.get("port")
    ok = True
    if not isinstance(number, int) or not 1 <= number <= 65535:
        reader.error(item, "port", f"{path}.port", f"{number} is not a port number (1-65535)")
        ok = False
    protocol = item.get("protocol") or "TCP"
    if protocol not in ("TCP", "UDP"):
        reader.error(item, "protocol", f"{path}.protocol", f"{protocol} is not supported (kubeplay routes TCP and UDP)")
        ok = False
    name = item.get("name") or ""
    if name and (problem := port_name_problem(name)):
        reader.error(item, "name", f"{path}.name", problem)
        ok = False
    elif not name and count > 1:
        reader.error(item, "name", f"{path}.name", "required when a Service has more than one port")
        ok = False
    target = _target_port(reader, item, path, number)
    node_port = item.get("nodePort") or 0
    if node_port:
        low, high = NODE_PORT_RANGE
        if kind not in ("NodePort", "LoadBalancer"):
            reader.error(item, "nodePort", f"{path}.nodePort",
                         f"a {kind} Service has no nodePort (set spec.type to NodePort or LoadBalancer)")
            ok = False
        elif not low <= node_port <= high:
            reader.error(item, "nodePort", f"{path}.nodePort", f"{node_port} is outside the node port range {low}-{high}")
            ok = False
    item.get("appProtocol")  # a hint for proxies and UIs: nothing to route differently
    if not ok or target is None:
        return None
    return ServicePort(port=number, target_port=target, protocol=protocol, name=name, node_port=node_port)


def _target_port(reader: _Reader, item: Any, path: str, port: Any) -> int | str | None:
    target = item.get("targetPort")
    if target is None or target == 0:
        return port if isinstance(port, int) else None  # Kubernetes' default: the same number
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    if isinstance(target, int):
        if not 1 <= target <= 65535:
            reader.error(item, "targetPort", f"{path}.targetPort", f"{target} is not a port number (1-65535)")
            return None
        return target
    if problem := port_name_problem(target):
        reader.error(item, "targetPort", f"{path}.targetPort", f"{problem}; give a number or a container port's name")
        return None
    return target


def _affinity(reader: _Reader, spec: Any) -> tuple[str, int]:
    affinity = spec.get("sessionAffinity") or "None"
    if affinity not in ("None", "ClientIP"):
        reader.error(spec, "sessionAffinity", "spec.sessionAffinity", f'unknown value "{affinity}" (expected None or ClientIP)')
    config = spec.get("sessionAffinityConfig") or {}
    client = config.get("clientIP") or {}
    timeout = client.get("timeoutSeconds")
    if timeout is None:
        return affinity, DEFAULT_AFFINITY_TIMEOUT
    if affinity != "ClientIP":
        reader.warn(config, "clientIP", "spec.sessionAffinityConfig", "has no effect unless sessionAffinity is ClientIP")
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_AFFINITY_TIMEOUT:
        reader.error(client, "timeoutSeconds", "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                     f"{timeout} is not between 1 and {MAX_AFFINITY_TIMEOUT}")
        return affinity, DEFAULT_AFFINITY_TIMEOUT
    return affinity, timeout


def _defaults_only(reader: _Reader, spec: Any) -> None:
    """Fields kubeplay honours only at their default: read, and named when set otherwise."""
    for key, (default, reason) in DEFAULT_ONLY.items():
        value = spec.get(key)
        if value is not None and value != default:
            reader.lenient(spec, key, f"spec.{key}", f'kubeplay ignores "{value}": {reason}')
    families = spec.get("ipFamilies")
    if families and list(families) != ["IPv4"]:
        reader.lenient(spec, "ipFamilies", "spec.ipFamilies", "kubeplay ignores it: Services are IPv4 only")
    allocate = spec.get("allocateLoadBalancerNodePorts")
    if allocate is False:
        reader.lenient(spec, "allocateLoadBalancerNodePorts", "spec.allocateLoadBalancerNodePorts",
                       "kubeplay ignores false: a LoadBalancer Service here is reached through its node ports")


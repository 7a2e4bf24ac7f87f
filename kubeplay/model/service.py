"""Services: what a Service manifest asks for (ServicePlan), what the store holds of it
(ServiceRecord: the plan plus the addresses and ports given to it), and its endpoints.

Only what kubeplay implements: ClusterIP, headless, NodePort and LoadBalancer Services over TCP and
UDP, selected by labels; ExternalName and SCTP are refused by translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeplay.model.plan import SourcePlan

NODE_PORT_RANGE = (30000, 32767)  # Kubernetes' default --service-node-port-range
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, as Kubernetes


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service: where it listens (port), where it sends (targetPort: a number, or the
    name of a container port), and the host port it is published on (nodePort, 0 until given)."""

    port: int
    target_port: int | str
    protocol: str = "TCP"
    name: str = ""
    node_port: int = 0

    def describe(self) -> str:
        """As `kubectl get svc` shows it: 80/TCP, or 80:30080/TCP with a nodePort."""
        node = f":{self.node_port}" if self.node_port else ""
        return f"{self.port}{node}/{self.protocol}"


@dataclass(frozen=True)
class ServicePlan:
    """A Service as translated from a manifest: stored as the Service's config."""

    name: str
    namespace: str = "default"
    type: str = "ClusterIP"
    headless: bool = False  # clusterIP: None
    cluster_ip: str = ""  # asked for in the manifest; "" means any free address of the range
    selector: dict[str, str] = field(default_factory=dict)
    ports: tuple[ServicePort, ...] = ()
    session_affinity: str = "None"  # or "ClientIP"
    affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT
    publish_not_ready: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    source: SourcePlan = field(default_factory=SourcePlan)
    # `file:line` of fields checked only when the Service is made (the range of clusterIP, a taken
    # nodePort), so that those errors still point into the manifest
    lines: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def where(self, path: str) -> str:
        """`app.yaml:12: spec.clusterIP` for messages about a field."""
        location = self.lines.get(path) or self.source.file
        return f"{location}: {path}" if location else path


@dataclass(frozen=True)
class ServiceRecord:
    """A Service as the store holds it: its plan, the cluster IP it got ("" when headless) and its
    ports with their node ports filled in."""

    plan: ServicePlan
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    created_at: float = 0.0

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def namespace(self) -> str:
        return self.plan.namespace

    @property
    def type(self) -> str:
        return self.plan.type


@dataclass(frozen=True)
class EndpointTarget:
    """Where one Service port sends traffic for one ready pod."""

    pod: str
    ip: str
    port: int


@dataclass(frozen=True)
class EndpointAddress:
    """A ready pod a Service selects: its address, and its hostname when it has a subdomain."""

    pod: str
    ip: str
    hostname: str = ""  # spec.hostname, set only when spec.subdomain names this Service


@dataclass(frozen=True)
class Endpoints:
    """A Service's ready pods (for headless names) and, per Service port, the targets (a pod
    without the named targetPort is no target of that port)."""

    addresses: tuple[EndpointAddress, ...] = ()
    targets: tuple[tuple[EndpointTarget, ...], ...] = ()  # one tuple per Service port, in order

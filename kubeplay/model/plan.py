"""Plans: what kubeplay will run, as translated from manifests. Only what kubeplay implements.

A plan is self-contained: ConfigMap and Secret data are already resolved into env values and volume
files, so a stored plan can be started again, and generated back, without the manifests.

Unlike most modules, this one does not postpone its annotations (no `from __future__ import
annotations`): pydantic reads the field types of every class here to validate a stored plan, and
types it is given as objects need no evaluation from text.
"""

from dataclasses import dataclass, field

from kubeplay.names import pod_key


@dataclass(frozen=True)
class EnvVar:
    """A resolved variable, or one whose value is known only when the pod runs (status.podIP)."""

    name: str
    value: str = ""
    field_path: str | None = None
    # where the value came from, so generate can give back the reference instead of the value
    source: dict | None = None


@dataclass(frozen=True)
class PortMapping:
    """A container port, and where it is published on the host (hostPort, hostIP)."""

    container_port: int
    protocol: str = "TCP"
    host_port: int | None = None
    host_ip: str = ""
    name: str = ""


@dataclass(frozen=True)
class MountPlan:
    """A volumeMount of a container."""

    volume: str
    destination: str
    read_only: bool = False
    sub_path: str = ""
    propagation: str = ""  # "", "None", "HostToContainer", "Bidirectional"


@dataclass(frozen=True)
class VolumeFile:
    """One file of a configMap/secret/downwardAPI/projected volume: a safe relative path."""

    # pydantic's configuration of this class (a plain dict: the model is pydantic's only when it is
    # converted): contents are base64 text in JSON, read in the standard alphabet that kubeplay
    # wrote before or the URL-safe one pydantic writes
    __pydantic_config__ = {"ser_json_bytes": "base64", "val_json_bytes": "base64"}

    path: str
    content: bytes = b""
    mode: int | None = None
    field_path: str | None = None  # downwardAPI fields resolved at start


@dataclass(frozen=True)
class VolumePlan:
    """A pod volume, whichever its kind."""

    name: str
    kind: str  # hostPath, emptyDir, configMap, secret, persistentVolumeClaim, downwardAPI, projected, image
    host_path: str = ""
    host_path_type: str = ""
    medium: str = ""
    size_limit: int | None = None
    claim_name: str = ""
    source_name: str = ""  # the ConfigMap/Secret name, for generate
    files: tuple[VolumeFile, ...] = ()
    default_mode: int | None = None
    optional: bool = False
    read_only: bool = False
    image: str = ""
    raw: dict | None = None  # the manifest's volume source, kept for generate
    # where the volume is written in its manifest (PodPlan.source names the file): for messages only,
    # so a plan played back from generated YAML is still the same plan
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ResourcePlan:
    """A container's resources: limits and requests as numbers, and as written."""

    cpu_limit_millis: int | None = None
    memory_limit: int | None = None
    cpu_request_millis: int | None = None
    memory_request: int | None = None
    raw: dict | None = None


@dataclass(frozen=True)
class SecurityPlan:
    """A container's effective securityContext (the pod's merged in)."""

    privileged: bool = False
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool | None = None
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()
    proc_mount: str = ""
    seccomp_profile: str = ""  # "", "RuntimeDefault", "Unconfined", "Localhost:<path>"
    supplemental_groups: tuple[int, ...] = ()
    fs_group: int | None = None
    fs_group_change_policy: str = ""  # "", "Always" or "OnRootMismatch"; "" is Always
    sysctls: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionPlan:
    """What a probe or lifecycle hook does."""

    kind: str  # exec, httpGet, tcpSocket, grpc, sleep
    command: tuple[str, ...] = ()
    path: str = ""
    port: int | str | None = None
    host: str = ""
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    service: str = ""
    seconds: int = 0


@dataclass(frozen=True)
class ProbePlan:
    """A liveness, readiness or startup probe."""

    action: ActionPlan
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None  # a liveness or startup kill's own grace


@dataclass(frozen=True)
class ContainerPlan:
    """One container of a pod: everything needed to build its config.json."""

    name: str
    image: str
    image_pull_policy: str = "IfNotPresent"
    command: tuple[str, ...] | None = None  # Kubernetes command: replaces ENTRYPOINT
    args: tuple[str, ...] | None = None  # Kubernetes args: replaces CMD
    env: tuple[EnvVar, ...] = ()
    working_dir: str = ""
    ports: tuple[PortMapping, ...] = ()
    mounts: tuple[MountPlan, ...] = ()
    resources: ResourcePlan = field(default_factory=ResourcePlan)
    security: SecurityPlan = field(default_factory=SecurityPlan)
    liveness_probe: ProbePlan | None = None
    readiness_probe: ProbePlan | None = None
    startup_probe: ProbePlan | None = None
    post_start: ActionPlan | None = None
    pre_stop: ActionPlan | None = None
    tty: bool = False
    stdin: bool = False
    restart_policy: str | None = None  # "Always" on an init container makes it a native sidecar
    stop_signal: str = ""


@dataclass(frozen=True)
class HostAlias:
    """An /etc/hosts entry the pod asks for."""

    ip: str
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class DnsPlan:
    """dnsPolicy and dnsConfig: what the pod's resolv.conf holds."""

    policy: str = "ClusterFirst"
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class OwnerPlan:
    """The workload a pod came from (Deployment, ReplicaSet, DaemonSet, Job)."""

    kind: str
    name: str
    replicas: int = 1
    template_hash: str = ""
    raw: dict | None = None  # the workload's spec minus its template, for generate
    labels: dict[str, str] = field(default_factory=dict)  # the workload's own metadata, for generate
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourcePlan:
    """Where a pod's manifest came from, so `down FILE` finds it."""

    file: str = ""
    document: int = 0


@dataclass(frozen=True)
class PodPlan:
    """One pod to run, as translated from a manifest: stored as the pod's config."""

    name: str
    namespace: str = "default"
    uid: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    containers: tuple[ContainerPlan, ...] = ()
    init_containers: tuple[ContainerPlan, ...] = ()
    volumes: tuple[VolumePlan, ...] = ()
    restart_policy: str = "Always"
    termination_grace_period_seconds: int = 30
    hostname: str = ""
    subdomain: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_process_namespace: bool = False
    host_users: bool = True
    host_aliases: tuple[HostAlias, ...] = ()
    dns: DnsPlan = field(default_factory=DnsPlan)
    security: SecurityPlan = field(default_factory=SecurityPlan)
    service_account_name: str = ""
    node_name: str = ""
    active_deadline_seconds: int | None = None
    owner: OwnerPlan | None = None
    source: SourcePlan = field(default_factory=SourcePlan)
    network: str = ""  # kubeplay network name; "" is the default network, "none" loopback only
    enable_service_links: bool = True  # SVC_SERVICE_HOST and friends in the containers' environment
    static_ip: str = ""  # play --ip: the address to lease on the pod's network ("" any free one)
    mac_address: str = ""  # play --mac-address: the pod interface's MAC ("" one derived from its address)

    @property
    def key(self) -> str:
        """What the store and the host know the pod by: its name, qualified by its namespace
        outside `default` (kubeplay.names.pod_key); never shown as its name."""
        return pod_key(self.namespace, self.name)

    @property
    def all_containers(self) -> tuple[ContainerPlan, ...]:
        return self.init_containers + self.containers

    @property
    def ports(self) -> tuple[PortMapping, ...]:
        return tuple(port for c in self.all_containers for port in c.ports if port.host_port)

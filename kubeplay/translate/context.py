"""What translation takes and gives: options, the result, and the per-pod context object.

`PodContext` is the one object handed to every container/env/volume function: the pod's identity,
the ConfigMaps and Secrets of the run, where the manifest is, and where problems go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeplay.model.claim import ClaimPlan
from kubeplay.model.plan import PodPlan
from kubeplay.model.service import ServicePlan
from kubeplay.model.workload import DeploymentPlan
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document


# One workload makes at most this many pods (replicas, or a Job's parallelism): a typo of a few
# zeros must not fill the host. The environment variable of this name raises or lowers it.
MAX_REPLICAS_ENV = "KUBEPLAY_MAX_REPLICAS"
DEFAULT_MAX_REPLICAS = 1000


@dataclass(frozen=True)
class TranslateOptions:
    """How manifests are translated."""

    strict: bool = False
    network: str = ""
    namespace_default: str = "default"
    node_name: str = ""  # what spec.nodeName reads as when the manifest leaves it out
    max_replicas: int = DEFAULT_MAX_REPLICAS


@dataclass
class TranslateResult:
    """What translating manifests produced: pods, claims, data objects, services, warnings."""

    pods: list[PodPlan] = field(default_factory=list)
    claims: list[ClaimPlan] = field(default_factory=list)
    configmaps: dict[str, dict[str, bytes]] = field(default_factory=dict)  # name -> key -> content
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    services: list[ServicePlan] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # workloads that make no pods (replicas: 0, a suspended Job): (kind, name, namespace, why)
    idle_workloads: list[tuple[str, str, str, str]] = field(default_factory=list)
    deployments: list[DeploymentPlan] = field(default_factory=list)  # with replicas: 0 too


@dataclass(frozen=True)
class DataSource:
    """A ConfigMap or Secret of this run, decoded."""

    kind: str  # "ConfigMap" or "Secret"
    name: str
    text: dict[str, str]  # ConfigMap data, or Secret data/stringData decoded as UTF-8
    binary: dict[str, bytes]  # every key as bytes (binaryData too), for volume files

    def env_value(self, key: str) -> str | None:
        return self.text.get(key)


@dataclass(frozen=True)
class PodContext:
    """The pod being translated: its document, where its spec sits, its identity."""

    doc: Document
    path: str  # where the pod spec sits in the document: "spec" or "spec.template.spec"
    pod_name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    node_name: str
    service_account: str
    configmaps: dict[tuple[str, str], DataSource]  # (namespace, name) -> source
    secrets: dict[tuple[str, str], DataSource]
    issues: Issues

    def error(self, line: int, path: str, message: str) -> None:
        self.issues.error(self.doc.file, line or self.doc.line, path, message)

    def warn(self, line: int, path: str, message: str) -> None:
        self.issues.warn(self.doc.file, line or self.doc.line, path, message)

    def lookup(self, kind: str, name: str) -> DataSource | None:
        table = self.configmaps if kind == "ConfigMap" else self.secrets
        return table.get((self.namespace, name))

"""What `down FILE` needs of manifests: the names of the objects they hold, and nothing else.

A pod is taken down from what was stored when it was played, so the manifests are not translated
again: a ConfigMap given with `play --configmap`, a Secret since deleted, a field that no longer
validates must not keep a pod from going. Only each document's kind, name and namespace are read,
and those are checked as play checks them, so no name that could not have been played is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeplay.names import LABEL, SUBDOMAIN, pod_key
from kubeplay.translate.checks import check_name
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document

POD_BEARING = ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "Job")  # the kinds that make pods


@dataclass(frozen=True)
class ManifestNames:
    """The pods, pod-making workloads and claims that manifests name."""

    pods: frozenset[str]  # bare Pods, by key (kubeplay.names.pod_key of their namespace and name)
    workloads: frozenset[tuple[str, str, str]]  # (kind, name, namespace) of Deployments, Jobs, ...
    claims: tuple[str, ...]  # PersistentVolumeClaims, by name
    services: tuple[tuple[str, str], ...] = ()  # Services, by (namespace, name)


def names_in(documents: list[Document], namespace_default: str = "default") -> ManifestNames:
    pods: set[str] = set()
    workloads: set[tuple[str, str, str]] = set()
    claims: list[str] = []
    services: list[tuple[str, str]] = []
    issues = Issues()
    for doc in documents:
        metadata = doc.body.get("metadata") if hasattr(doc.body, "get") else None
        metadata = metadata if hasattr(metadata, "get") else {}
        check_name(metadata, "name", "metadata.name", SUBDOMAIN, doc, issues)
        check_name(metadata, "namespace", "metadata.namespace", LABEL, doc, issues)
        name, namespace = metadata.get("name"), metadata.get("namespace") or namespace_default
        if not isinstance(name, str) or not name:
            continue  # nothing of it can have been stored under a name
        if doc.kind == "Pod":
            pods.add(pod_key(str(namespace), name))
        elif doc.kind in POD_BEARING:
            workloads.add((doc.kind, name, str(namespace)))
        elif doc.kind == "PersistentVolumeClaim" and name not in claims:
            claims.append(name)
        elif doc.kind == "Service" and (str(namespace), name) not in services:
            services.append((str(namespace), name))
    issues.raise_errors()
    return ManifestNames(frozenset(pods), frozenset(workloads), tuple(claims), tuple(services))

"""Objects as a cluster returns them to `kubectl get -o yaml`: metadata with namespace, uid and
creationTimestamp, the spec generate gives, and the `status` the caller read from the store.

Each object is checked by its Kubernetes type (conform.py); times are RFC 3339 strings in UTC.
Pure: the caller passes the status, already shaped as Kubernetes' status types.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from kubeplay.defaults import node_name
from kubeplay.generate.models import checked, document
from kubeplay.generate.pod import pod_metadata, pod_spec

if TYPE_CHECKING:
    from typing import Any

    from kubeplay.model.plan import PodPlan
    from kubeplay.model.service import ServiceRecord


def rfc3339(seconds: float | None) -> str | None:
    """A store time (seconds since the epoch) as Kubernetes writes times."""
    return None if seconds is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def live_metadata(name: str, namespace: str, uid: str, created_at: float | None, **extra: Any) -> dict:
    metadata = {"name": name, "namespace": namespace, "uid": uid or None,
                "creationTimestamp": rfc3339(created_at), **extra}
    return {key: value for key, value in metadata.items() if value not in (None, {}, [])}


def pod_object(plan: PodPlan, uid: str, created_at: float, status: dict) -> dict:
    metadata = pod_metadata(plan, plan.name)
    owner = None
    if plan.owner is not None:
        owner = [{"apiVersion": "apps/v1" if plan.owner.kind != "Job" else "batch/v1", "kind": plan.owner.kind,
                  "name": plan.owner.name, "uid": "", "controller": True}]
    meta = live_metadata(plan.name, plan.namespace, plan.uid or uid, created_at,
                         labels=metadata.get("labels"), annotations=metadata.get("annotations"),
                         ownerReferences=owner)
    spec = pod_spec(plan, lambda image: None, node_name())
    spec.setdefault("nodeName", node_name())
    return with_text_times(checked(document("Pod", meta, spec=spec, status=status)))


def service_object(record: ServiceRecord, status: dict | None = None) -> dict:
    from kubeplay.generate.services import service_spec

    spec = service_spec(record)
    if record.cluster_ip:
        spec["clusterIP"] = record.cluster_ip
    meta = live_metadata(record.name, record.namespace, "", record.created_at,
                         labels=dict(record.plan.labels) or None, annotations=dict(record.plan.annotations) or None)
    return with_text_times(checked(document("Service", meta, spec={"type": record.type, **spec},
                                            status=status or {"loadBalancer": {}})))


def workload_object(kind: str, name: str, namespace: str, created_at: float | None, template: PodPlan,
                    replicas: int, status: dict) -> dict:
    """A Deployment (or another workload) with the pod template of one of its pods."""
    template_meta = pod_metadata(template, None, template=True)
    labels = template_meta.get("labels") or {"app": name}
    template_meta["labels"] = labels
    spec: dict = {"template": {"metadata": template_meta, "spec": pod_spec(template, lambda image: None, node_name())}}
    if kind != "Job":
        spec["selector"] = {"matchLabels": labels}
    if kind in ("Deployment", "ReplicaSet"):
        spec["replicas"] = replicas
    meta = live_metadata(name, namespace, "", created_at, labels=dict(template.owner.labels) or None
                         if template.owner else None)
    return with_text_times(checked(document(kind, meta, spec=spec, status=status)))


def plain_object(kind: str, metadata: dict, **body: Any) -> dict:
    """A ConfigMap, Secret or PersistentVolumeClaim: checked like the others."""
    return with_text_times(checked(document(kind, metadata, **body)))


def with_text_times(value: Any) -> Any:
    """conform reads date-times into datetime objects; JSON and YAML output want the RFC 3339 text back."""
    if isinstance(value, dict):
        return {key: with_text_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_text_times(item) for item in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value

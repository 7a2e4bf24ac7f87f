"""Stored Services given back as Service documents that play back to the same Services here.

The manifest's own choices are kept (type, selector, ports, targetPort names, a fixed clusterIP,
session affinity); a node port kubeplay gave out is written too, so the Service is reached on
the same host port after a re-play. A cluster IP kubeplay picked is left out: it belongs to
this store's range, and the names are what pods use.
"""

from __future__ import annotations

from kubeplay.model.endpoints import selects
from kubeplay.model.plan import PodPlan
from kubeplay.model.service import DEFAULT_AFFINITY_TIMEOUT, ServiceRecord


def services_selecting(records: list[ServiceRecord], plan: PodPlan) -> list[ServiceRecord]:
    return [record for record in records
            if record.namespace == plan.namespace and selects(record.plan.selector, plan.labels)]


def service_spec(record: ServiceRecord) -> dict:
    plan = record.plan
    ports = [{"name": port.name or None, "protocol": port.protocol if port.protocol != "TCP" else None,
              "port": port.port, "targetPort": port.target_port if port.target_port != port.port else None,
              "nodePort": port.node_port or None} for port in record.ports]
    spec: dict = {
        "type": plan.type if plan.type != "ClusterIP" else None,
        "clusterIP": "None" if plan.headless else (plan.cluster_ip or None),
        "selector": dict(plan.selector) or None,
        "ports": [{key: value for key, value in port.items() if value is not None} for port in ports] or None,
        "sessionAffinity": plan.session_affinity if plan.session_affinity != "None" else None,
        "publishNotReadyAddresses": True if plan.publish_not_ready else None,
    }
    if plan.session_affinity == "ClientIP" and plan.affinity_timeout != DEFAULT_AFFINITY_TIMEOUT:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": plan.affinity_timeout}}
    return {key: value for key, value in spec.items() if value is not None}

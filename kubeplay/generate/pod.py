"""A PodPlan as a Kubernetes pod spec and pod metadata (camelCase dicts), defaults left out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kubeplay.generate.container import container_spec, seccomp
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import PodPlan, SecurityPlan, VolumePlan

if TYPE_CHECKING:
    from typing import Any

ImageConfigs = Callable[[str], "ImageConfig | None"]

# labels the controllers add to their pods; a workload's template must not carry them
CONTROLLER_LABELS = ("pod-template-hash", "job-name", "batch.kubernetes.io/job-name", "controller-uid",
                     "batch.kubernetes.io/controller-uid")


def pod_metadata(plan: PodPlan, name: str | None, template: bool = False) -> dict:
    labels = {key: value for key, value in plan.labels.items() if key not in CONTROLLER_LABELS} \
        if template or plan.owner else dict(plan.labels)
    metadata: dict[str, Any] = {"name": name, "labels": labels or None, "annotations": dict(plan.annotations) or None}
    if not template and plan.namespace != "default":
        metadata["namespace"] = plan.namespace
    return {key: value for key, value in metadata.items() if value is not None}


def pod_spec(plan: PodPlan, image_config: ImageConfigs, local_node: str) -> dict:
    def containers(plans) -> list[dict] | None:
        return [container_spec(c, plan.security, image_config(c.image)) for c in plans] or None

    spec: dict[str, Any] = {
        "initContainers": containers(plan.init_containers),
        "containers": containers(plan.containers) or [],
        "volumes": [volume_spec(volume) for volume in plan.volumes] or None,
        "restartPolicy": plan.restart_policy if plan.restart_policy != "Always" else None,
        "terminationGracePeriodSeconds": plan.termination_grace_period_seconds
        if plan.termination_grace_period_seconds != 30 else None,
        "activeDeadlineSeconds": plan.active_deadline_seconds,
        "hostname": plan.hostname or None,
        "subdomain": plan.subdomain or None,
        "hostNetwork": plan.host_network or None,
        "hostPID": plan.host_pid or None,
        "hostIPC": plan.host_ipc or None,
        "shareProcessNamespace": plan.share_process_namespace or None,
        "hostUsers": False if not plan.host_users else None,
        "hostAliases": [{"ip": alias.ip, "hostnames": list(alias.hostnames)} for alias in plan.host_aliases] or None,
        "dnsPolicy": plan.dns.policy if plan.dns.policy != "ClusterFirst" else None,
        "dnsConfig": _dns_config(plan),
        "enableServiceLinks": False if not plan.enable_service_links else None,
        "securityContext": _pod_security(plan.security),
        "serviceAccountName": plan.service_account_name
        if plan.service_account_name not in ("", "default") else None,
        # translation fills in this machine's name; saying it would pin the pod to a node on a cluster
        "nodeName": plan.node_name if plan.node_name and plan.node_name != local_node else None,
    }
    return {key: value for key, value in spec.items() if value is not None}


def _dns_config(plan: PodPlan) -> dict | None:
    dns = plan.dns
    if not (dns.nameservers or dns.searches or dns.options):
        return None
    return {"nameservers": list(dns.nameservers) or None, "searches": list(dns.searches) or None,
            "options": [{"name": name, "value": value} for name, value in dns.options] or None}


def _pod_security(security: SecurityPlan) -> dict | None:
    context = {
        "runAsUser": security.run_as_user,
        "runAsGroup": security.run_as_group,
        "runAsNonRoot": security.run_as_non_root,
        "seccompProfile": seccomp(security.seccomp_profile),
        "supplementalGroups": list(security.supplemental_groups) or None,
        "fsGroup": security.fs_group,
        "fsGroupChangePolicy": security.fs_group_change_policy or None,
        "sysctls": [{"name": name, "value": value} for name, value in security.sysctls.items()] or None,
    }
    context = {key: value for key, value in context.items() if value is not None}
    return context or None


def volume_spec(volume: VolumePlan) -> dict:
    """The manifest's own volume source when kept; hostPath with the absolute path it resolved to."""
    if volume.kind == "hostPath":
        source = {**(volume.raw or {}), "path": volume.host_path, "type": volume.host_path_type or None}
    elif volume.raw is not None:
        source = volume.raw
    elif volume.kind == "emptyDir":
        source = {"medium": volume.medium or None,
                  "sizeLimit": str(volume.size_limit) if volume.size_limit is not None else None}
    elif volume.kind == "persistentVolumeClaim":
        source = {"claimName": volume.claim_name, "readOnly": volume.read_only or None}
    elif volume.kind == "configMap":
        source = {"name": volume.source_name, "optional": volume.optional or None}
    elif volume.kind == "secret":
        source = {"secretName": volume.source_name, "optional": volume.optional or None}
    elif volume.kind == "image":
        source = {"reference": volume.image}
    else:
        source = {}
    return {"name": volume.name, volume.kind: source}

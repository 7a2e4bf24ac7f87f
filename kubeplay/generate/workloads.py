"""Pods grouped into what to give back: each Pod, or one workload per Deployment/ReplicaSet/DaemonSet/Job
(all replicas collapse into one), plus the Service that publishes a group's host ports.

Services: a pod's published ports stay `hostPort`s in its spec (that is what plays back here with
the same host ports, and what a cluster node honours too). The Service is a ClusterIP Service
named after the pod or workload, selecting its labels, with port = the host port and
targetPort = the container port: it applies on a cluster, and playing it back changes nothing here.
NodePort was not chosen: node ports must lie in 30000-32767, which most host ports do not.
"""

from __future__ import annotations

from kubeplay.errors import UserError
from kubeplay.model.plan import PodPlan

WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "DaemonSet", "Job")
TYPE_NAMES = {"pod": "Pod", "deployment": "Deployment", "daemonset": "DaemonSet", "job": "Job"}


class Group:
    """What becomes one document: a pod, or a workload with all its pods."""

    def __init__(self, kind: str, name: str, namespace: str) -> None:
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.pods: list[PodPlan] = []

    @property
    def template(self) -> PodPlan:
        return self.pods[0]

    @property
    def own_owner(self):
        """The pod's owner when it is of the kind being generated (its spec and labels are reused)."""
        owner = self.template.owner
        return owner if owner and owner.kind == self.kind else None


def group_pods(plans: list[PodPlan], kind: str | None) -> list[Group]:
    groups: dict[tuple[str, str, str], Group] = {}
    for plan in plans:
        target = kind or (plan.owner.kind if plan.owner else "Pod")
        _check_restart_policy(plan, target)
        name = plan.name if target == "Pod" or plan.owner is None else plan.owner.name
        key = (target, plan.namespace, name)
        groups.setdefault(key, Group(target, name, plan.namespace)).pods.append(plan)
    return list(groups.values())


def _check_restart_policy(plan: PodPlan, kind: str) -> None:
    if kind == "Job" and plan.restart_policy == "Always":
        raise UserError(f'pod "{plan.name}" has restartPolicy Always, which a Job does not allow',
                        hint="generate it as a pod or a deployment, or play it with restartPolicy "
                             "Never or OnFailure first")
    if kind in ("Deployment", "ReplicaSet", "DaemonSet") and plan.restart_policy != "Always":
        raise UserError(f'pod "{plan.name}" has restartPolicy {plan.restart_policy}, but a {kind} '
                        "only allows Always",
                        hint="generate it as a pod or a job (--type pod or --type job)")


def workload_spec(group: Group, labels: dict[str, str], template: dict, replicas: int | None) -> dict:
    """The workload's spec: its own kept spec if it came from one, the given template, a selector."""
    owner = group.own_owner
    spec = dict(owner.raw or {}) if owner else {}
    if group.kind != "Job" and "selector" not in spec:
        spec["selector"] = {"matchLabels": dict(labels)}
    if group.kind in ("Deployment", "ReplicaSet"):
        if replicas is not None:
            spec["replicas"] = replicas
        elif owner is None and len(group.pods) > 1:
            spec["replicas"] = len(group.pods)
    return {**spec, "template": template}


def workload_metadata(group: Group, template_labels: dict[str, str]) -> dict:
    owner = group.own_owner
    labels = dict(owner.labels) if owner else dict(template_labels)
    annotations = dict(owner.annotations) if owner else {}
    metadata: dict = {"name": group.name, "labels": labels or None, "annotations": annotations or None}
    if group.namespace != "default":
        metadata["namespace"] = group.namespace
    return metadata


def service_ports(plan: PodPlan) -> list[dict]:
    ports = []
    for container in plan.all_containers:
        for port in container.ports:
            if port.host_port:
                name = port.name or f"{port.protocol.lower()}-{port.host_port}"
                ports.append({"name": name, "protocol": port.protocol if port.protocol != "TCP" else None,
                              "port": port.host_port, "targetPort": port.container_port})
    return ports

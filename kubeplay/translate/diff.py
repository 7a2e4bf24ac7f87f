"""What `apply` counts as a change, as Kubernetes counts it: pure comparisons of what is stored
with what the files now say.

Pods of one template differ only in their identity (name, uid, and what the downward API reads of
them), so plans are compared with that identity blanked. A change only in the files of ConfigMap or
Secret volumes that no container mounts with a subPath is one the kubelet makes in running pods;
any other change of a template replaces its pods.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kubeplay.errors import UserError
from kubeplay.model.plan import ContainerPlan, EnvVar, PodPlan, SourcePlan
from kubeplay.model.service import ServicePlan, ServiceRecord
from kubeplay.model.workload import DeploymentPlan

UNCHANGED = "unchanged"
FILES = "files"  # only the files of data volumes mounted whole: updated in the running pods
TEMPLATE = "template"  # the pods are replaced
IDENTITY_FIELDS = ("metadata.name", "metadata.uid")
PER_RUN_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")  # a Job's, new at each translation
DATA_VOLUMES = ("configMap", "secret", "projected")


def _anonymous_env(var: EnvVar) -> EnvVar:
    field = ((var.source or {}).get("fieldRef") or {}).get("fieldPath")
    return dataclasses.replace(var, value="") if field in IDENTITY_FIELDS else var


def _anonymous_container(container: ContainerPlan) -> ContainerPlan:
    return dataclasses.replace(container, env=tuple(_anonymous_env(var) for var in container.env))


def anonymous(plan: PodPlan) -> PodPlan:
    """The plan with what differs between replicas of one template blanked: name, uid, hostname
    taken from the name, the owner's replica count and spec, where the manifest was."""
    owner = plan.owner and dataclasses.replace(plan.owner, replicas=0, raw=None, labels={}, annotations={})
    labels = {key: value for key, value in plan.labels.items() if key not in PER_RUN_LABELS}
    return dataclasses.replace(
        plan, name="", uid="", hostname="" if plan.hostname == plan.name else plan.hostname, labels=labels,
        owner=owner, source=SourcePlan(),
        containers=tuple(_anonymous_container(c) for c in plan.containers),
        init_containers=tuple(_anonymous_container(c) for c in plan.init_containers))


def _sub_path_volumes(plan: PodPlan) -> set[str]:
    return {mount.volume for c in plan.all_containers for mount in c.mounts if mount.sub_path}


def template_change(old: PodPlan, new: PodPlan) -> str:
    """UNCHANGED, FILES or TEMPLATE: how a pod made from `old` differs from one made from `new`."""
    old, new = anonymous(old), anonymous(new)
    if old == new:
        return UNCHANGED
    if len(old.volumes) != len(new.volumes):
        return TEMPLATE
    whole = set()
    for before, after in zip(old.volumes, new.volumes):
        if before == after:
            continue
        if before.kind not in DATA_VOLUMES or dataclasses.replace(before, files=after.files) != after:
            return TEMPLATE
        whole.add(after.name)
    if whole & _sub_path_volumes(new):
        return TEMPLATE
    return FILES if dataclasses.replace(old, volumes=new.volumes) == new else TEMPLATE


def changed_volumes(old: PodPlan, new: PodPlan) -> list[str]:
    """The volumes whose files differ (for a FILES change)."""
    return [after.name for before, after in zip(old.volumes, new.volumes) if before.files != after.files]


@dataclass(frozen=True)
class DeploymentChange:
    template: str  # UNCHANGED, FILES or TEMPLATE
    replicas: bool  # the replica count changed
    settings: bool  # strategy, deadline or history limit changed

    @property
    def any(self) -> bool:
        return self.template != UNCHANGED or self.replicas or self.settings


def check_deployment(old: DeploymentPlan, new: DeploymentPlan) -> None:
    """Refuse what Kubernetes refuses to change: spec.selector (apps/v1 makes it immutable)."""
    if old.selector != new.selector:
        raise UserError(f"{new.where('spec.selector')}: field is immutable (it was {_text(old.selector)})",
                        hint="delete the Deployment first (`kubeplay down FILE`), or keep the selector")


def deployment_change(old: DeploymentPlan, new: DeploymentPlan) -> DeploymentChange:
    settings = (old.strategy, old.max_surge, old.max_unavailable, old.progress_deadline_seconds,
                old.revision_history_limit) != (new.strategy, new.max_surge, new.max_unavailable,
                                                new.progress_deadline_seconds, new.revision_history_limit)
    template = template_change(old.template, new.template)
    if template == UNCHANGED and old.template_hash != new.template_hash:
        template = TEMPLATE
    return DeploymentChange(template=template, replicas=old.replicas != new.replicas, settings=settings)


def check_job(old: PodPlan, new: PodPlan) -> None:
    """A Job's pod template is immutable, as in Kubernetes."""
    if template_change(old, new) != UNCHANGED:
        where = f"{new.source.file}: Job {new.owner.name if new.owner else new.name}"
        raise UserError(f"{where}: spec.template: field is immutable",
                        hint="delete the Job first (`kubeplay down FILE` or `kubeplay pod rm -f` of its pods), "
                             "then apply again")


def _comparable_service(plan: ServicePlan) -> ServicePlan:
    return dataclasses.replace(plan, source=SourcePlan(), lines={})


def service_change(old: ServiceRecord, new: ServicePlan) -> str:
    """UNCHANGED or "configured"; refuses a change of clusterIP, which Kubernetes keeps."""
    if new.headless != old.plan.headless or (new.cluster_ip and new.cluster_ip != old.cluster_ip):
        was = "None" if old.plan.headless else old.cluster_ip
        raise UserError(f"{new.where('spec.clusterIP')}: field is immutable (it is {was})",
                        hint="leave clusterIP as it is, or delete the Service first (`kubeplay down FILE`)")
    return UNCHANGED if _comparable_service(old.plan) == _comparable_service(new) else "configured"


def _text(selector: dict) -> str:
    labels = selector.get("matchLabels") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or str(selector)

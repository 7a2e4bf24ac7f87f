"""`generate`: stored PodPlans in, Kubernetes documents out (claims, ConfigMaps, Secrets, pods or
workloads, Services), each checked by its `kubernetes` model; pure, given the image configs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from kubeplay.defaults import node_name
from kubeplay.errors import UserError
from kubeplay.generate.data import DataObjects
from kubeplay.generate.models import checked, document
from kubeplay.generate.pod import pod_metadata, pod_spec
from kubeplay.generate.workloads import Group, group_pods, service_ports, workload_metadata, workload_spec
from kubeplay.generate.yamltext import dump_documents
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import PodPlan

DEFAULT_CLAIM_SIZE = "1Gi"  # a named volume made without a claim's size (a cluster needs one)


class GenerateOptions(NamedTuple):
    """What `kubeplay generate` was asked for."""

    kind: str | None = None  # Pod, Deployment, DaemonSet, Job; None: each pod as it came
    replicas: int | None = None
    service: bool = False
    include_secrets: bool = False
    local_node: str | None = None  # the nodeName translation fills in, left out of specs; None: this host's
    stored_services: tuple = ()  # ServiceRecords of the store: --service gives back those selecting the pods


class Generated(NamedTuple):
    """The documents generated for some pods, and what the user should be warned of."""

    documents: list[dict]
    warnings: list[str]

    @property
    def yaml(self) -> str:
        return dump_documents(self.documents)


def generate(plans: list[PodPlan], options: GenerateOptions | None = None,
             image_config: Callable[[str], ImageConfig | None] = lambda image: None,
             claim_labels: Mapping[str, dict[str, str]] | None = None,
             claim_specs: Mapping[str, dict] | None = None) -> Generated:
    options = options or GenerateOptions()
    if options.replicas is not None and options.kind != "Deployment":
        raise UserError("--replicas applies only to a Deployment",
                        hint="add --type deployment, or leave --replicas out")
    warnings: list[str] = []
    groups = group_pods(plans, options.kind)
    data = DataObjects()
    for plan in plans:
        data.add_pod(plan)
        if plan.network and plan.network != "kubeplay":
            warnings.append(f'pod "{plan.name}" runs on the kubeplay network "{plan.network}", which YAML '
                            f"cannot say: play the output with --network {plan.network}")
    documents = _claims(plans, claim_labels or {}, claim_specs or {})
    documents += [document("ConfigMap", _metadata(obj.name, obj.namespace), **body)
                  for obj, body in data.documents("ConfigMap")]
    secrets = data.documents("Secret")
    if options.include_secrets:
        documents += [document("Secret", _metadata(obj.name, obj.namespace), **body) for obj, body in secrets]
    elif secrets:
        names = ", ".join(obj.name for obj, _ in secrets)
        warnings.append(f"Secrets were left out ({names}): the pods still reference them; "
                        "add --include-secrets to write their data too")
    services: list[dict] = []
    given: set[tuple[str, str]] = set()
    for group in groups:
        pod_doc = _group_document(group, image_config, options)
        documents.append(pod_doc)
        if options.service:
            services += _stored_or_new_service(group, _selector_labels(pod_doc), options, given, warnings)
    warnings += data.warnings
    return Generated([checked(doc) for doc in documents + services], warnings)


def _metadata(name: str, namespace: str, **extra) -> dict:
    metadata = {"name": name, **extra}
    if namespace != "default":
        metadata["namespace"] = namespace
    return metadata


def _group_document(group: Group, image_config, options: GenerateOptions) -> dict:
    plan = group.template
    spec = pod_spec(plan, image_config, options.local_node or node_name())
    if group.kind == "Pod":
        return document("Pod", pod_metadata(plan, plan.name), spec=spec)
    template_meta = pod_metadata(plan, None, template=True)
    labels = template_meta.get("labels") or {}
    if not labels and group.kind != "Job":
        labels = {"app": group.name}  # a selector needs something to select
        template_meta["labels"] = labels
    template = {"metadata": template_meta or None, "spec": spec}
    return document(group.kind, workload_metadata(group, labels),
                    spec=workload_spec(group, labels, template, options.replicas))


def _selector_labels(doc: dict) -> dict[str, str]:
    if doc["kind"] == "Pod":
        return dict(doc["metadata"].get("labels") or {})
    return dict((doc["spec"]["template"].get("metadata") or {}).get("labels") or {})


def _stored_or_new_service(group: Group, labels: dict[str, str], options: GenerateOptions,
                           given: set[tuple[str, str]], warnings: list[str]) -> list[dict]:
    """The stored Services that select the group's pods, each once; else a new one for its host ports."""
    from kubeplay.generate.services import service_spec, services_selecting

    stored = services_selecting(list(options.stored_services), group.template)
    if not stored:
        return _service(group, labels, warnings)
    documents = []
    for record in stored:
        if record.plan.key in given:
            continue
        given.add(record.plan.key)
        metadata = _metadata(record.name, record.namespace, labels=dict(record.plan.labels) or None,
                             annotations=dict(record.plan.annotations) or None)
        documents.append(document("Service", metadata, spec=service_spec(record)))
    return documents


def _service(group: Group, labels: dict[str, str], warnings: list[str]) -> list[dict]:
    ports = service_ports(group.template)
    if not ports:
        warnings.append(f'{group.kind.lower()} "{group.name}" publishes no host ports, so no Service was made')
        return []
    if not labels:
        raise UserError(f'pod "{group.name}" has no labels, so a Service cannot select it',
                        hint="give the pod labels (kubeplay run --labels, or metadata.labels in its YAML) "
                             "or leave --service out")
    return [document("Service", _metadata(group.name, group.namespace),
                     spec={"selector": labels, "ports": ports})]


def _claims(plans: list[PodPlan], claim_labels: Mapping[str, dict[str, str]],
            claim_specs: Mapping[str, dict]) -> list[dict]:
    """A claim per named volume the pods mount: its spec as it was played (the requested size
    kept), else ReadWriteOnce of DEFAULT_CLAIM_SIZE for a claim played before specs were kept."""
    claims: dict[tuple[str, str], None] = {}
    for plan in plans:
        for volume in plan.volumes:
            if volume.kind == "persistentVolumeClaim" and volume.claim_name:
                claims.setdefault((plan.namespace, volume.claim_name))
    documents = []
    for namespace, name in sorted(claims):
        labels = dict(claim_labels.get(name) or {})
        spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": DEFAULT_CLAIM_SIZE}},
                **(claim_specs.get(name) or {})}
        documents.append(document("PersistentVolumeClaim", _metadata(name, namespace, labels=labels or None),
                                  spec=spec))
    return documents

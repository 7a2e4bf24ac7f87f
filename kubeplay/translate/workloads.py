"""Pod-bearing kinds as PodPlans: Pod, Deployment, ReplicaSet, DaemonSet, Job.

Pods are named the way the controllers name them: `<deployment>-<pod-template-hash>-<suffix>`,
`<replicaset>-<suffix>`, `<daemonset>-<suffix>`, `<job>-<suffix>`, each part in Kubernetes' safe
alphabet (no vowels, no look-alike characters).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from kubeplay.defaults import node_name
from kubeplay.model.plan import OwnerPlan, PodPlan
from kubeplay.translate.context import MAX_REPLICAS_ENV, DataSource, PodContext, TranslateOptions
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.pod import pod_plan
from kubeplay.translate.positions import line_of, snapshot

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
JOB_OPTIONS = ("completions", "parallelism", "backoffLimit", "activeDeadlineSeconds")
GENERATED_BASE_MAX = 58


@dataclass(frozen=True)
class RunObjects:
    """What every pod of a run may reference."""

    configmaps: dict[tuple[str, str], DataSource]
    secrets: dict[tuple[str, str], DataSource]
    options: TranslateOptions
    issues: Issues
    rng: random.Random
    deployments: list = field(default_factory=list)  # DeploymentPlans, as their documents are translated


def random_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(length))


def generated_name(base: str, rng: random.Random) -> str:
    """`<base>-<suffix>` as the API server's generateName makes it: "<base>-" cut to 58 characters
    first, so a generated pod name has at most 63 whatever the workload's name."""
    return f"{base}-"[:GENERATED_BASE_MAX] + random_suffix(rng)


def template_hash(template: Any) -> str:
    """A stable hash of a pod template: FNV-1a over its canonical JSON, encoded as Kubernetes does
    (each decimal digit of the 32-bit hash mapped into the safe alphabet)."""
    data = json.dumps(snapshot(template), sort_keys=True, separators=(",", ":")).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(digit) % len(SAFE_ALPHABET)] for digit in str(value))


def _deployment_hash(template: Any, doc: Document, run: RunObjects) -> str:
    """The pod-template-hash: of the template, and of the data of the ConfigMaps and Secrets whose
    change replaces its pods (kubeplay.translate.deployments.replaced_by_data), so that such a change
    makes a new ReplicaSet's pods, as a template change does."""
    from kubeplay.translate.deployments import replaced_by_data

    namespace = (doc.body.get("metadata") or {}).get("namespace") or run.options.namespace_default
    used = replaced_by_data(snapshot(template))
    if not used:
        return template_hash(template)
    data = {}
    for kind, name in used:
        source = (run.configmaps if kind == "ConfigMap" else run.secrets).get((namespace, name))
        if source is not None:
            data[f"{kind}/{name}"] = {key: value.hex() for key, value in sorted(source.binary.items())}
    return template_hash({"template": snapshot(template), "data": data})


def pods_of(doc: Document, run: RunObjects) -> list[PodPlan]:
    body = doc.body
    if doc.kind == "Pod":
        metadata = body.get("metadata") or {}
        return [_pod(doc, run, "spec", metadata.get("name"), metadata, body.get("spec") or {}, {}, None)]
    spec = body.get("spec") or {}
    template = spec.get("template") or {}
    name = (body.get("metadata") or {}).get("name")
    metadata = template.get("metadata") or {}
    if not _selector_matches(doc, spec, metadata, run.issues):
        return []
    pod_spec = template.get("spec") or {}
    raw = {key: value for key, value in snapshot(spec).items() if key != "template"}
    if doc.kind == "Job":
        return _job(doc, run, name, spec, metadata, pod_spec, raw)
    replicas = 1
    extra: dict[str, str] = {}
    hash_text = ""
    if doc.kind in ("Deployment", "ReplicaSet"):
        replicas = spec.get("replicas")
        replicas = 1 if replicas is None else replicas
        if not _within_limit(doc, spec, "replicas", replicas, run):
            return []
    if doc.kind == "Deployment":
        hash_text = _deployment_hash(template, doc, run)
        extra = {"pod-template-hash": hash_text}
    prefix = f"{name}-{hash_text}" if hash_text else name
    owner = OwnerPlan(kind=doc.kind, name=name, replicas=replicas, template_hash=hash_text, raw=raw,
                      **_workload_metadata(body))
    # with replicas: 0 the template is still translated once, so its problems are found now, not
    # when it is scaled up, and none of its fields reads as ignored
    plans = [_pod(doc, run, "spec.template.spec", generated_name(prefix, run.rng), metadata, pod_spec,
                  extra, owner) for _ in range(max(replicas, 1))]
    if doc.kind == "Deployment":
        from kubeplay.translate.deployments import deployment_plan

        deployment = deployment_plan(doc, spec, replicas, plans[0], hash_text, run.issues)
        if deployment is not None:
            run.deployments.append(deployment)
    return plans[:replicas]


def _job(doc: Document, run: RunObjects, name: str, spec: Any, metadata: Any, pod_spec: Any,
         raw: dict) -> list[PodPlan]:
    restart = pod_spec.get("restartPolicy")
    if restart not in ("Never", "OnFailure"):
        got = f'"{restart}"' if restart else "not set"
        run.issues.error(doc.file, line_of(pod_spec, "restartPolicy") or doc.line,
                         "spec.template.spec.restartPolicy",
                         f'{got}: a Job needs restartPolicy "Never" or "OnFailure"')
        return []
    options = {key: spec.get(key) for key in JOB_OPTIONS}
    if spec.get("suspend"):
        run.issues.warn(doc.file, line_of(spec, "suspend"), "spec.suspend",
                        f"Job {name} is suspended; no pods were made")
        return []
    parallelism = 1 if options["parallelism"] is None else options["parallelism"]
    completions = options["completions"]
    count = min(parallelism, completions) if completions is not None else parallelism
    if not _within_limit(doc, spec, "parallelism" if count == parallelism else "completions", count, run):
        return []
    job_uid = str(uuid.uuid4())
    extra = {"job-name": name, "batch.kubernetes.io/job-name": name,
             "controller-uid": job_uid, "batch.kubernetes.io/controller-uid": job_uid}
    owner = OwnerPlan(kind="Job", name=name, replicas=count, raw=raw, **_workload_metadata(doc.body))
    plans = [_pod(doc, run, "spec.template.spec", generated_name(name, run.rng), metadata, pod_spec,
                  extra, owner) for _ in range(max(count, 1))]
    return plans[:count]  # as for replicas: 0, the template is checked all the same


def _within_limit(doc: Document, spec: Any, field: str, count: int, run: RunObjects) -> bool:
    """Whether `count` pods are at most what one play may make (TranslateOptions.max_replicas)."""
    limit = run.options.max_replicas
    if count <= limit:
        return True
    run.issues.error(doc.file, line_of(spec, field) or doc.line, f"spec.{field}",
                     f"{count} pods: kubeplay makes at most {limit} pods of one workload "
                     f"(raise it with {MAX_REPLICAS_ENV})")
    return False


def _workload_metadata(body: Any) -> dict[str, dict[str, str]]:
    """The workload's own labels and annotations, kept so generate can give them back."""
    metadata = body.get("metadata") or {}
    return {"labels": dict((metadata.get("labels") or {}).items()),
            "annotations": dict((metadata.get("annotations") or {}).items())}


def _selector_matches(doc: Document, spec: Any, metadata: Any, issues: Issues) -> bool:
    selector = spec.get("selector")
    if selector is None:
        if doc.kind == "Job":
            return True  # the Job controller makes its own selector
        issues.error(doc.file, line_of(doc.body, "spec"), "spec.selector", "required field is missing")
        return False
    labels = dict(dict.items(metadata.get("labels") or {}))
    wanted = selector.get("matchLabels") or {}
    ok = all(labels.get(key) == value for key, value in wanted.items())
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression.get("key"), expression.get("operator")
        values = list(expression.get("values") or ())
        ok = ok and {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(operator, False)
    if not ok:
        issues.error(doc.file, line_of(spec, "selector"), "spec.selector",
                     "does not match the template's labels (spec.template.metadata.labels)")
    return ok


def _pod(doc: Document, run: RunObjects, path: str, pod_name: str, metadata: Any, pod_spec: Any,
         extra_labels: dict[str, str], owner: OwnerPlan | None) -> PodPlan:
    document_meta = doc.body.get("metadata") or {}
    namespace = document_meta.get("namespace") or run.options.namespace_default
    labels = {**dict((metadata.get("labels") or {}).items()), **extra_labels}
    annotations = dict((metadata.get("annotations") or {}).items())
    if doc.kind != "Pod":
        metadata.get("name")  # a template's name is never used, as in Kubernetes
    ctx = PodContext(
        doc=doc, path=path, pod_name=pod_name, namespace=namespace, uid=str(uuid.uuid4()),
        labels=labels, annotations=annotations,
        node_name=pod_spec.get("nodeName") or run.options.node_name or node_name(),
        service_account=pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default",
        configmaps=run.configmaps, secrets=run.secrets, issues=run.issues,
    )
    return pod_plan(ctx, pod_spec, run.options.network, owner)

"""`translate`: validated documents in, PodPlans and the run's other objects out.

One pass: validate everything, stop if anything is wrong; decode ConfigMaps and Secrets; turn each
pod-bearing document into pods; collect claims and Services; name what was not read. Every problem
of the run is reported together and nothing is returned while any error stands.
"""

from __future__ import annotations

import random

from kubeplay.translate.consumed import report_unconsumed
from kubeplay.translate.context import ClaimPlan, DataSource, TranslateOptions, TranslateResult
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import plain, snapshot
from kubeplay.translate.quantity import to_units
from kubeplay.translate.sources import data_source
from kubeplay.translate.targets import POD_BEARING
from kubeplay.translate.validate import validate
from kubeplay.translate.workloads import RunObjects, pods_of


def translate(documents: list[Document], options: TranslateOptions | None = None,
              rng: random.Random | None = None) -> TranslateResult:
    options = options or TranslateOptions()
    issues = Issues(strict=options.strict)
    wanted = validate(documents, issues)
    issues.raise_errors()

    result = TranslateResult()
    configmaps: dict[tuple[str, str], DataSource] = {}
    secrets: dict[tuple[str, str], DataSource] = {}
    for doc in wanted:
        if doc.kind in ("ConfigMap", "Secret"):
            source = data_source(doc, issues)
            table = configmaps if doc.kind == "ConfigMap" else secrets
            key = (_namespace(doc, options), source.name)
            if key in table:
                issues.error(doc.file, doc.line, "metadata.name", f'{doc.kind} "{source.name}" is defined twice')
            table[key] = source
            (result.configmaps if doc.kind == "ConfigMap" else result.secrets)[source.name] = dict(source.binary)

    run = RunObjects(configmaps=configmaps, secrets=secrets, options=options, issues=issues,
                     rng=rng or random.Random())
    for doc in wanted:
        if doc.kind in POD_BEARING:
            pods = pods_of(doc, run)
            result.pods.extend(pods)
            if not pods and doc.kind != "Pod":
                result.idle_workloads.append(_idle(doc, options))
        elif doc.kind == "PersistentVolumeClaim":
            result.claims.append(_claim(doc, options))
        elif doc.kind == "Service":
            _add_service(doc, _namespace(doc, options), result, issues)
    result.deployments = run.deployments
    _check_unique_pods(result, issues)
    report_unconsumed(wanted, issues)
    issues.raise_errors()
    result.warnings = list(issues.warnings)
    return result


def _namespace(doc: Document, options: TranslateOptions) -> str:
    return (doc.body.get("metadata") or {}).get("namespace") or options.namespace_default


def _idle(doc: Document, options: TranslateOptions) -> tuple[str, str, str, str]:
    spec = dict.get(doc.body, "spec") or {}
    if doc.kind == "Job":
        why = "suspended" if dict.get(spec, "suspend") else "parallelism: 0"
        if dict.get(spec, "completions") == 0:
            why = "completions: 0"
    else:
        why = "replicas: 0"
    name = dict.get(dict.get(doc.body, "metadata") or {}, "name") or ""
    return doc.kind, name, _namespace(doc, options), why


def _claim(doc: Document, options: TranslateOptions) -> ClaimPlan:
    metadata = doc.body.get("metadata") or {}
    spec = doc.body.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    raw = snapshot(spec)
    plain(spec)  # kept whole in raw for generate; a named volume needs nothing else
    return ClaimPlan(name=metadata.get("name"), size=to_units(storage) if storage is not None else None,
                     labels=dict((metadata.get("labels") or {}).items()), namespace=_namespace(doc, options),
                     raw=raw)


def _add_service(doc: Document, namespace: str, result: TranslateResult, issues: Issues) -> None:
    from kubeplay.translate.services import service_plan

    plan = service_plan(doc, namespace, issues)
    if plan is None:
        return
    if any(other.key == plan.key for other in result.services):
        issues.error(doc.file, doc.line, "metadata.name", f'Service "{plan.name}" is defined twice')
        return
    result.services.append(plan)


def _check_unique_pods(result: TranslateResult, issues: Issues) -> None:
    seen: set[tuple[str, str]] = set()
    for pod in result.pods:
        key = (pod.namespace, pod.name)
        if key in seen:
            issues.error(pod.source.file, 0, "metadata.name",
                         f'pod "{pod.name}" is defined twice (document {pod.source.document})')
        seen.add(key)

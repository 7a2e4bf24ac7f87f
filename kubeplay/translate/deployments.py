"""A Deployment's own fields (replicas, selector, strategy, progressDeadlineSeconds,
revisionHistoryLimit) as a DeploymentPlan, around the plan of one replica of its template."""

from __future__ import annotations

from typing import Any

from kubeplay.model.plan import PodPlan, SourcePlan
from kubeplay.model.workload import (
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_PROGRESS_DEADLINE,
    DEFAULT_SURGE,
    DEFAULT_UNAVAILABLE,
    DeploymentPlan,
    check_rolling_values,
)
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import line_of, plain


def deployment_plan(doc: Document, spec: Any, replicas: int, template: PodPlan, template_hash: str,
                    issues: Issues) -> DeploymentPlan | None:
    metadata = doc.body.get("metadata") or {}
    lines = {"spec.selector": f"{doc.file}:{line_of(spec, 'selector') or doc.line}",
             "spec.replicas": f"{doc.file}:{line_of(spec, 'replicas') or doc.line}",
             "spec.template": f"{doc.file}:{line_of(spec, 'template') or doc.line}"}
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type") or "RollingUpdate"
    rolling = strategy.get("rollingUpdate") or {}
    surge = rolling.get("maxSurge", DEFAULT_SURGE)
    unavailable = rolling.get("maxUnavailable", DEFAULT_UNAVAILABLE)
    where = line_of(rolling, "maxSurge") or line_of(strategy, "rollingUpdate") or line_of(spec, "strategy") or doc.line
    lines["spec.strategy.rollingUpdate"] = f"{doc.file}:{where}"
    ok = True
    if kind not in ("RollingUpdate", "Recreate"):
        issues.error(doc.file, line_of(strategy, "type"), "spec.strategy.type",
                     f'"{kind}": must be "RollingUpdate" or "Recreate"')
        ok = False
    elif kind == "Recreate" and rolling:
        issues.error(doc.file, line_of(strategy, "rollingUpdate"), "spec.strategy.rollingUpdate",
                     'may not be given when strategy type is "Recreate"')
        ok = False
    elif kind == "RollingUpdate" and (problem := check_rolling_values(surge, unavailable)):
        issues.error(doc.file, where, "spec.strategy.rollingUpdate." + problem.split(":", 1)[0],
                     problem.split(": ", 1)[1])
        ok = False
    deadline = _whole(doc, spec, "progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE, issues, minimum=1)
    history = _whole(doc, spec, "revisionHistoryLimit", DEFAULT_HISTORY_LIMIT, issues, minimum=0)
    for key, why in (("minReadySeconds", "a pod counts as available as soon as it is Ready"),
                     ("paused", "a rollout cannot be paused; apply rolls the Deployment at once")):
        if spec.get(key):
            issues.lenient(doc.file, line_of(spec, key), f"spec.{key}", f"kubeplay ignores it: {why}")
    selector = plain(spec.get("selector") or {})
    if not ok or deadline is None or history is None:
        return None
    return DeploymentPlan(
        name=metadata.get("name"), namespace=template.namespace, replicas=replicas, template=template,
        template_hash=template_hash, selector=selector, strategy=kind, max_surge=surge, max_unavailable=unavailable,
        progress_deadline_seconds=deadline, revision_history_limit=history,
        source=SourcePlan(file=template.source.file, document=template.source.document), lines=lines)


def _whole(doc: Document, spec: Any, key: str, default: int, issues: Issues, minimum: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        issues.error(doc.file, line_of(spec, key), f"spec.{key}",
                     f"{value!r}: must be a whole number of at least {minimum}")
        return None
    return value


ENV_REFERENCES = {"configMapKeyRef": "ConfigMap", "configMapRef": "ConfigMap", "secretKeyRef": "Secret",
                  "secretRef": "Secret"}


def replaced_by_data(template: Any) -> list[tuple[str, str]]:
    """The ConfigMaps and Secrets (kind, name) whose change replaces the template's pods: those read
    through the environment, and those mounted with a subPath (a file the kubelet never updates).
    A volume mounted whole is updated in the running pods instead."""
    spec = (template or {}).get("spec") or {}
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    found: list[tuple[str, str]] = []
    for container in containers:
        for item in list(container.get("env") or []) + list(container.get("envFrom") or []):
            sources = [item, item.get("valueFrom") or {}] if isinstance(item, dict) else []
            for source in sources:
                for key, kind in ENV_REFERENCES.items():
                    if isinstance(source.get(key), dict) and source[key].get("name"):
                        found.append((kind, source[key]["name"]))
    sub_path_volumes = {mount.get("name") for container in containers
                        for mount in container.get("volumeMounts") or [] if mount.get("subPath")}
    for volume in spec.get("volumes") or []:
        if volume.get("name") in sub_path_volumes:
            found += _volume_sources(volume)
    return sorted(set(found))


def _volume_sources(volume: dict) -> list[tuple[str, str]]:
    sources = [volume] + [source for source in (volume.get("projected") or {}).get("sources") or []]
    found = []
    for source in sources:
        if (source.get("configMap") or {}).get("name"):
            found.append(("ConfigMap", source["configMap"]["name"]))
        secret = source.get("secret") or {}
        if secret.get("secretName") or secret.get("name"):
            found.append(("Secret", secret.get("secretName") or secret.get("name")))
    return found

"""Container resources: cpu in millicores and memory in bytes, parsed from Kubernetes quantities.

Only cpu and memory are enforced; other resources (ephemeral-storage, hugepages, devices) are
named in a warning. A request defaults to the limit when only the limit is given, as in Kubernetes.
"""

from __future__ import annotations

from typing import Any

from kubeplay.model.plan import ResourcePlan
from kubeplay.translate.context import PodContext
from kubeplay.translate.positions import line_of, plain
from kubeplay.translate.quantity import to_millis, to_units

ENFORCED = {"cpu", "memory"}


def resource_plan(ctx: PodContext, container: Any, path: str) -> ResourcePlan:
    resources = container.get("resources")
    if not resources:
        return ResourcePlan()
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for table_name, table in (("limits", limits), ("requests", requests)):
        for name in table:
            if name not in ENFORCED:
                ctx.warn(line_of(table, name), f"{path}.resources.{table_name}.{name}",
                         "kubeplay enforces only cpu and memory; this one is not limited")
    if resources.get("claims"):
        ctx.warn(line_of(resources, "claims"), f"{path}.resources.claims",
                 "kubeplay has no dynamic resource allocation; the claims are ignored")
    cpu_limit = _maybe(to_millis, limits.get("cpu"))
    memory_limit = _maybe(to_units, limits.get("memory"))
    cpu_request = _maybe(to_millis, requests.get("cpu"))
    memory_request = _maybe(to_units, requests.get("memory"))
    for label, request, limit in (("cpu", cpu_request, cpu_limit), ("memory", memory_request, memory_limit)):
        if request is not None and limit is not None and request > limit:
            ctx.error(line_of(requests, label), f"{path}.resources.requests.{label}",
                      f"must be less than or equal to the {label} limit")
    return ResourcePlan(
        cpu_limit_millis=cpu_limit,
        memory_limit=memory_limit,
        cpu_request_millis=cpu_request if cpu_request is not None else cpu_limit,
        memory_request=memory_request if memory_request is not None else memory_limit,
        raw=plain(resources),
    )


def _maybe(convert: Any, value: Any) -> int | None:
    return None if value is None else convert(value)

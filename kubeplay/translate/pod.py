"""A pod spec as a PodPlan: pod-level fields, then containers and volumes through their modules."""

from __future__ import annotations

from typing import Any

from kubeplay.model.plan import DnsPlan, HostAlias, OwnerPlan, PodPlan, SourcePlan
from kubeplay.translate import container as container_translation
from kubeplay.translate.context import PodContext
from kubeplay.translate.positions import line_of
from kubeplay.translate.security import pod_security
from kubeplay.translate.volumes import volume_plans


def pod_plan(ctx: PodContext, spec: Any, network: str, owner: OwnerPlan | None = None) -> PodPlan:
    security = pod_security(ctx, spec)
    init_raw = list(spec.get("initContainers") or [])
    main_raw = list(spec.get("containers") or [])
    everyone = init_raw + main_raw
    init_containers = tuple(
        container_translation.to_plan(raw, ctx, security, everyone, f"{ctx.path}.initContainers[{i}]", init=True)
        for i, raw in enumerate(init_raw))
    containers = tuple(
        container_translation.to_plan(raw, ctx, security, everyone, f"{ctx.path}.containers[{i}]")
        for i, raw in enumerate(main_raw))
    return PodPlan(
        name=ctx.pod_name,
        namespace=ctx.namespace,
        uid=ctx.uid,
        labels=dict(ctx.labels),
        annotations=dict(ctx.annotations),
        containers=containers,
        init_containers=init_containers,
        volumes=volume_plans(ctx, spec, everyone),
        restart_policy=spec.get("restartPolicy") or "Always",
        termination_grace_period_seconds=_grace(spec),
        hostname=spec.get("hostname") or "",
        subdomain=spec.get("subdomain") or "",
        host_network=bool(spec.get("hostNetwork")),
        host_pid=bool(spec.get("hostPID")),
        host_ipc=bool(spec.get("hostIPC")),
        share_process_namespace=bool(spec.get("shareProcessNamespace")),
        host_users=_host_users(ctx, spec),
        host_aliases=_host_aliases(spec),
        dns=_dns(ctx, spec),
        security=security,
        service_account_name=ctx.service_account,
        node_name=ctx.node_name,
        active_deadline_seconds=spec.get("activeDeadlineSeconds"),
        owner=owner,
        source=SourcePlan(file=ctx.doc.file, document=ctx.doc.index),
        network=network,
        enable_service_links=spec.get("enableServiceLinks") is not False,
    )


def _host_users(ctx: PodContext, spec: Any) -> bool:
    shared = spec.get("hostUsers") is not False
    if not shared:
        ctx.issues.lenient(ctx.doc.file, line_of(spec, "hostUsers"), f"{ctx.path}.hostUsers",
                           "kubeplay ignores hostUsers: false: the pod shares the host's user namespace")
    return shared


def _grace(spec: Any) -> int:
    grace = spec.get("terminationGracePeriodSeconds")
    return 30 if grace is None else grace


def _host_aliases(spec: Any) -> tuple[HostAlias, ...]:
    return tuple(HostAlias(ip=alias.get("ip") or "", hostnames=tuple(alias.get("hostnames") or ()))
                 for alias in spec.get("hostAliases") or ())


def _dns(ctx: PodContext, spec: Any) -> DnsPlan:
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    config = spec.get("dnsConfig") or {}
    if policy == "None" and not config.get("nameservers"):
        ctx.error(line_of(spec, "dnsPolicy"), f"{ctx.path}.dnsConfig.nameservers",
                  'at least one nameserver is required when dnsPolicy is "None"')
    options = tuple((option.get("name") or "", option.get("value")) for option in config.get("options") or ())
    return DnsPlan(policy=policy, nameservers=tuple(config.get("nameservers") or ()),
                   searches=tuple(config.get("searches") or ()), options=options)

"""Security contexts: the pod's and each container's, merged as Kubernetes does (container wins).

Only runAsUser, runAsGroup, runAsNonRoot, seccompProfile exist at both levels; supplementalGroups,
fsGroup and sysctls are pod-only and carry into every container's plan.
"""

from __future__ import annotations

from typing import Any

from kubeplay.model.plan import SecurityPlan
from kubeplay.translate.context import PodContext
from kubeplay.translate.positions import line_of

# fields kubeplay reads; the others are reported by consumption tracking
SHARED = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")


def pod_security(ctx: PodContext, pod_spec: Any) -> SecurityPlan:
    context = pod_spec.get("securityContext") or {}
    sysctls = {}
    for item in context.get("sysctls") or []:
        sysctls[str(item.get("name"))] = str(item.get("value") or "")
    return SecurityPlan(
        run_as_user=context.get("runAsUser"),
        run_as_group=context.get("runAsGroup"),
        run_as_non_root=context.get("runAsNonRoot"),
        seccomp_profile=_seccomp(ctx, context, f"{ctx.path}.securityContext"),
        supplemental_groups=tuple(context.get("supplementalGroups") or ()),
        fs_group=context.get("fsGroup"),
        fs_group_change_policy=_change_policy(ctx, context),
        sysctls=sysctls,
    )


FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")


def _change_policy(ctx: PodContext, context: Any) -> str:
    policy = context.get("fsGroupChangePolicy")
    if policy is None:
        return ""
    if policy not in FS_GROUP_CHANGE_POLICIES:
        ctx.error(line_of(context, "fsGroupChangePolicy"), f"{ctx.path}.securityContext.fsGroupChangePolicy",
                  f"{policy!r}: must be one of {', '.join(FS_GROUP_CHANGE_POLICIES)}")
        return ""
    return str(policy)


def container_security(ctx: PodContext, pod: SecurityPlan, container: Any, path: str) -> SecurityPlan:
    context = container.get("securityContext") or {}
    capabilities = context.get("capabilities") or {}
    seccomp = _seccomp(ctx, context, f"{path}.securityContext")
    privileged = bool(context.get("privileged"))
    escalation = context.get("allowPrivilegeEscalation")
    if privileged and escalation is False:
        ctx.error(line_of(context, "allowPrivilegeEscalation"), f"{path}.securityContext.allowPrivilegeEscalation",
                  "cannot be false when privileged is true")
    return SecurityPlan(
        privileged=privileged,
        run_as_user=_first(context.get("runAsUser"), pod.run_as_user),
        run_as_group=_first(context.get("runAsGroup"), pod.run_as_group),
        run_as_non_root=_first(context.get("runAsNonRoot"), pod.run_as_non_root),
        read_only_root_filesystem=bool(context.get("readOnlyRootFilesystem")),
        allow_privilege_escalation=escalation,
        capabilities_add=tuple(capabilities.get("add") or ()),
        capabilities_drop=tuple(capabilities.get("drop") or ()),
        proc_mount=context.get("procMount") or "",
        seccomp_profile=seccomp or pod.seccomp_profile,
        supplemental_groups=pod.supplemental_groups,
        fs_group=pod.fs_group,
        fs_group_change_policy=pod.fs_group_change_policy,
        sysctls=dict(pod.sysctls),
    )


def _first(own: Any, inherited: Any) -> Any:
    return own if own is not None else inherited


def _seccomp(ctx: PodContext, context: Any, path: str) -> str:
    profile = context.get("seccompProfile")
    if not profile:
        return ""
    kind = profile.get("type") or ""
    if kind != "Localhost":
        return kind
    local = profile.get("localhostProfile") or ""
    if not local:
        ctx.error(line_of(profile, "type"), f"{path}.seccompProfile.localhostProfile",
                  "required when type is Localhost")
    return f"Localhost:{local}"

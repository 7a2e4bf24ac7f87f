"""config.json for a pod's infra container and for its members, from the plan and a context.

The infra container (catatonit -P) creates, or joins, the pod's network, IPC and UTS namespaces
(and PID with shareProcessNamespace) and holds them; members join them by /proc/PID/ns path and
always get their own mount namespace. Everything host-specific that the pod code resolves (volume
sources, /etc/hosts, namespace paths, values known at start) arrives in a SpecContext.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import EngineError, UserError
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import ContainerPlan, PodPlan, SecurityPlan
from kubeplay.oci import options as opt
from kubeplay.oci.cgroups import cgroups_path, with_cgroups_path, with_resources
from kubeplay.oci.options import IdMapping, OciMount
from kubeplay.oci.process import (
    container_env,
    container_user,
    effective_security,
    resolve_argv,
    with_args,
    with_cwd,
    with_env,
    with_user,
    working_dir,
)
from kubeplay.oci.seccomp import profile_for, with_seccomp
from kubeplay.oci.spec import SpecOption, apply_options, default_spec

INFRA_ARGV = ("/catatonit", "-P")

# sysctl prefixes that belong to a namespace the pod may share with the host
NET_SYSCTLS = ("net.",)
IPC_SYSCTLS = ("kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.")


@dataclass(frozen=True)
class SpecContext:
    """What the pod code resolved on the host for one container."""

    container_id: str
    pod_id: str
    hostname: str
    namespace_paths: dict[str, str]
    mounts: tuple[OciMount, ...] = ()
    extra_env: tuple[tuple[str, str], ...] = ()
    rootless: bool = False
    seccomp_profile_path: str | None = None  # the RuntimeDefault profile; None: standard places
    share_pid: bool = False
    uid_mappings: tuple[IdMapping, ...] = ()  # rootless infra: a new user namespace with these
    gid_mappings: tuple[IdMapping, ...] = ()
    default_ulimits: tuple[str, ...] = ()  # containers.conf [containers] default_ulimits
    pids_limit: int | None = None
    delegated_cgroup: str = ""  # rootless with a delegated cgroup v2 subtree: its path


def _namespace_path(ctx: SpecContext, kind: str) -> str:
    path = ctx.namespace_paths.get(kind)
    if not path:
        raise EngineError(
            f"container {ctx.container_id}: no {kind} namespace path of the pod's infra container",
            hint="the infra container must be running before its members are created",
        )
    return path


def _host_namespaces(pod: PodPlan) -> list[str]:
    kinds = []
    if pod.host_network:
        kinds += ["network", "uts"]  # hostNetwork implies the host's hostname too
    if pod.host_ipc:
        kinds.append("ipc")
    if pod.host_pid:
        kinds.append("pid")
    return kinds


def _member_namespaces(pod: PodPlan, ctx: SpecContext) -> list[SpecOption]:
    host = _host_namespaces(pod)
    joins = {kind: _namespace_path(ctx, kind) for kind in ("network", "ipc", "uts") if kind not in host}
    if (pod.share_process_namespace or ctx.share_pid) and "pid" not in host:
        joins["pid"] = _namespace_path(ctx, "pid")
    if ctx.namespace_paths.get("user"):
        joins["user"] = ctx.namespace_paths["user"]
    return [opt.with_host_namespaces(host), opt.with_namespace_paths(joins)]


def _infra_namespaces(pod: PodPlan, ctx: SpecContext) -> list[SpecOption]:
    host = _host_namespaces(pod)
    options = [opt.with_host_namespaces(host)]
    # namespaces pinned before the infra exists (the pod's netns; uts and ipc when the members are
    # created beside the infra rather than after it) are joined; the others the infra creates
    pinned = {kind: ctx.namespace_paths[kind] for kind in ("network", "ipc", "uts")
              if kind not in host and ctx.namespace_paths.get(kind)}
    if pinned:
        options.append(opt.with_namespace_paths(pinned))
    if ctx.namespace_paths.get("user"):
        options.append(opt.with_namespace_paths({"user": ctx.namespace_paths["user"]}))
    elif ctx.rootless and ctx.uid_mappings:
        options.append(opt.with_user_namespace(ctx.uid_mappings, ctx.gid_mappings))
    return options


def _check_sysctls(pod: PodPlan, sysctls: dict[str, str]) -> None:
    for name in sysctls:
        shared = (pod.host_network and name.startswith(NET_SYSCTLS)) or (
            pod.host_ipc and name.startswith(IPC_SYSCTLS)
        )
        if shared:
            raise UserError(
                f"pod \"{pod.name}\": sysctl {name} would change the host, "
                f"since the pod uses the host's {'network' if name.startswith('net.') else 'IPC'} namespace",
                hint="remove the sysctl or the hostNetwork/hostIPC setting",
            )


def _security_options(plan: ContainerPlan, security: SecurityPlan) -> list[SpecOption]:
    options: list[SpecOption] = []
    if security.privileged:
        options.append(opt.with_privileged())
    else:
        options.append(
            opt.with_capabilities(security.capabilities_add, security.capabilities_drop, container=plan.name)
        )
        options.append(opt.with_proc_mount(security.proc_mount))
    if security.allow_privilege_escalation is False:
        options.append(opt.with_no_new_privs())
    options.append(opt.with_readonly_rootfs(security.read_only_root_filesystem))
    return options


def _seccomp_option(plan: ContainerPlan, security: SecurityPlan, spec: dict, ctx: SpecContext) -> SpecOption:
    """Seccomp depends on the final bounding set, so it is computed after capabilities."""
    if security.privileged:
        return with_seccomp(None)
    bounding = spec["process"]["capabilities"]["bounding"]
    return with_seccomp(profile_for(security.seccomp_profile, bounding, ctx.seccomp_profile_path, plan.name))


def _cgroup_options(ctx: SpecContext, plan: ContainerPlan | None) -> list[SpecOption]:
    path = cgroups_path(ctx.pod_id, ctx.container_id, ctx.rootless, ctx.delegated_cgroup)
    options = [with_cgroups_path(path)]
    if path is not None and plan is not None:
        options.append(with_resources(plan.resources, ctx.pids_limit))
    return options


def _annotations(pod: PodPlan, container: str) -> dict[str, str]:
    return {
        "io.kubernetes.pod.name": pod.name,
        "io.kubernetes.pod.namespace": pod.namespace,
        "io.kubernetes.container.name": container,
    }


def build_member_spec(
    plan: ContainerPlan, pod: PodPlan, image: ImageConfig, rootfs: Path, ctx: SpecContext
) -> dict:
    """The config.json dict for one member (or init) container of a pod."""
    security = effective_security(plan.security, pod.security)
    _check_sysctls(pod, security.sysctls)
    user = container_user(plan, security, image, rootfs)
    spec = default_spec(ctx.default_ulimits)
    apply_options(
        spec,
        [
            opt.with_root(str(rootfs)),
            with_args(resolve_argv(plan, image)),
            with_env(container_env(plan, image, ctx.hostname, ctx.extra_env)),
            with_cwd(working_dir(plan, image)),
            with_user(user.uid, user.gid, user.additional_gids),
            *_member_namespaces(pod, ctx),
            *([opt.with_sys_bind()] if ctx.rootless else []),
            opt.with_mounts(ctx.mounts),
            *_security_options(plan, security),
            opt.with_sysctls(security.sysctls),
            opt.with_tty(plan.tty),
            opt.with_stdin(plan.stdin),
            opt.with_annotations(_annotations(pod, plan.name)),
            *_cgroup_options(ctx, plan),
        ],
    )
    return apply_options(spec, [_seccomp_option(plan, security, spec, ctx)])


def build_infra_spec(pod: PodPlan, rootfs: Path, ctx: SpecContext) -> dict:
    """The config.json dict for a pod's infra container: catatonit holding the namespaces."""
    spec = default_spec(ctx.default_ulimits)
    # catatonit only reaps and forwards signals: it needs no capability and no /sys
    spec["mounts"] = [m for m in spec["mounts"] if m["destination"] in ("/proc", "/dev", "/dev/mqueue")]
    options: list[SpecOption] = [
        opt.with_root(str(rootfs), read_only=True),
        with_args(INFRA_ARGV),
        opt.with_capabilities(drop=["ALL"]),
        opt.with_no_new_privs(),
        *_infra_namespaces(pod, ctx),
        opt.with_mounts(ctx.mounts),
        opt.with_annotations(_annotations(pod, "POD")),
        *_cgroup_options(ctx, None),
    ]
    if not pod.host_network:
        options.append(opt.with_hostname(pod.hostname or pod.name))
    return apply_options(spec, options)

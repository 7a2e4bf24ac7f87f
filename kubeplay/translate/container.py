"""One container of a pod spec as a ContainerPlan: `to_plan(raw, ctx, ...)`.

The image reference is kept as written; pulling and resolving it is the engine's job.
"""

from __future__ import annotations

from typing import Any

from kubeplay.model.plan import ContainerPlan, MountPlan, PortMapping, SecurityPlan
from kubeplay.translate.context import PodContext
from kubeplay.translate.env import container_env
from kubeplay.translate.execsize import POINTER, ExecBudget, string_bytes, too_long
from kubeplay.translate.expansion import expand
from kubeplay.translate.positions import line_of
from kubeplay.translate.probes import hook_plan, probe_plan
from kubeplay.translate.resources import resource_plan
from kubeplay.translate.security import container_security
from kubeplay.translate.volumes import unsafe_relative_path


def default_pull_policy(image: str) -> str:
    """Always for `:latest` or no tag, else IfNotPresent; a digest pins the image."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def to_plan(raw: Any, ctx: PodContext, pod_security: SecurityPlan, containers: list, path: str,
            init: bool = False) -> ContainerPlan:
    image = raw.get("image") or ""
    environment = container_env(ctx, raw, containers, path)
    env = tuple(environment.vars.values())
    known = environment.known
    command = _arguments(ctx, raw, "command", path, known, environment.budget)
    args = _arguments(ctx, raw, "args", path, known, environment.budget)
    lifecycle = raw.get("lifecycle") or {}
    restart_policy = raw.get("restartPolicy")
    if restart_policy is not None and not (init and restart_policy == "Always"):
        ctx.error(line_of(raw, "restartPolicy"), f"{path}.restartPolicy",
                  "only an init container may set restartPolicy, and only to Always (a sidecar)")
    if init and restart_policy != "Always":
        for key in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
            if dict.get(raw, key) is not None:
                ctx.error(line_of(raw, key), f"{path}.{key}",
                          "an init container that runs to completion has no probes or hooks "
                          "(a sidecar, restartPolicy: Always, may)")
    return ContainerPlan(
        name=raw.get("name"),
        image=image,
        image_pull_policy=raw.get("imagePullPolicy") or default_pull_policy(image),
        command=command,
        args=args,
        env=env,
        working_dir=raw.get("workingDir") or "",
        ports=_ports(ctx, raw, path),
        mounts=_mounts(ctx, raw, path),
        resources=resource_plan(ctx, raw, path),
        security=container_security(ctx, pod_security, raw, path),
        liveness_probe=probe_plan(ctx, raw, "livenessProbe", path),
        readiness_probe=probe_plan(ctx, raw, "readinessProbe", path),
        startup_probe=probe_plan(ctx, raw, "startupProbe", path),
        post_start=hook_plan(ctx, raw, "postStart", path),
        pre_stop=hook_plan(ctx, raw, "preStop", path),
        tty=bool(raw.get("tty")),
        stdin=bool(raw.get("stdin")),
        restart_policy=restart_policy,
        stop_signal=lifecycle.get("stopSignal") or "",
    )


def _arguments(ctx: PodContext, raw: Any, field: str, path: str, known: dict[str, str],
               budget: ExecBudget) -> tuple[str, ...] | None:
    """command or args with $(VAR) expanded, each within what execve accepts, and all of them with
    the environment (the image's own entrypoint is not counted: it is not known here)."""
    parts = raw.get(field)
    if parts is None:
        return None
    expanded = []
    size = 0
    for index, part in enumerate(parts):
        text = expand(part, known)
        if problem := too_long(text):
            ctx.error(line_of(parts, index) or line_of(raw, field), f"{path}.{field}[{index}]", problem)
            return ()
        size += string_bytes(text) + POINTER
        expanded.append(text)
    budget.set(f"\0{field}", size - POINTER)  # "\0": no variable has this name
    if budget.exhausted():
        ctx.error(line_of(raw, field), f"{path}.{field}", budget.over(0))
        return ()
    return tuple(expanded)


def _ports(ctx: PodContext, raw: Any, path: str) -> tuple[PortMapping, ...]:
    ports = raw.get("ports") or []
    mappings = []
    for index, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        if protocol == "SCTP":
            ctx.warn(line_of(port, "protocol") or line_of(ports, index), f"{path}.ports[{index}].protocol",
                     "kubeplay publishes only TCP and UDP; this SCTP port is not published")
            continue
        mappings.append(PortMapping(
            container_port=port.get("containerPort"),
            protocol=protocol,
            host_port=port.get("hostPort") or None,
            host_ip=port.get("hostIP") or "",
            name=port.get("name") or "",
        ))
    return tuple(mappings)


def _mounts(ctx: PodContext, raw: Any, path: str) -> tuple[MountPlan, ...]:
    mounts = raw.get("volumeMounts") or []
    plans = []
    for index, mount in enumerate(mounts):
        sub_path = mount.get("subPath") or ""
        if sub_path and (problem := unsafe_relative_path(sub_path)):
            ctx.error(line_of(mount, "subPath"), f"{path}.volumeMounts[{index}].subPath",
                      f'"{sub_path}" {problem}: a subPath must stay inside its volume')
            continue
        plans.append(MountPlan(
            volume=mount.get("name"),
            destination=mount.get("mountPath"),
            read_only=bool(mount.get("readOnly")),
            sub_path=sub_path,
            propagation=mount.get("mountPropagation") or "",
        ))
    return tuple(plans)

"""Probes and lifecycle hooks as ActionPlan/ProbePlan; named ports resolve to numbers now."""

from __future__ import annotations

from typing import Any

from kubeplay.model.plan import ActionPlan, ProbePlan
from kubeplay.translate.context import PodContext
from kubeplay.translate.positions import line_of

PROBE_ACTIONS = ("exec", "httpGet", "tcpSocket", "grpc")
HOOK_ACTIONS = ("exec", "httpGet", "tcpSocket", "sleep")


def probe_plan(ctx: PodContext, container: Any, field: str, path: str) -> ProbePlan | None:
    probe = container.get(field)
    if probe is None:
        return None
    action = action_plan(ctx, container, probe, PROBE_ACTIONS, f"{path}.{field}")
    if action is None:
        return None
    return ProbePlan(
        action=action,
        initial_delay_seconds=probe.get("initialDelaySeconds") or 0,
        period_seconds=probe.get("periodSeconds") or 10,
        timeout_seconds=probe.get("timeoutSeconds") or 1,
        success_threshold=probe.get("successThreshold") or 1,
        failure_threshold=probe.get("failureThreshold") or 3,
    )


def hook_plan(ctx: PodContext, container: Any, hook: str, path: str) -> ActionPlan | None:
    lifecycle = container.get("lifecycle") or {}
    handler = lifecycle.get(hook)
    if handler is None:
        return None
    return action_plan(ctx, container, handler, HOOK_ACTIONS, f"{path}.lifecycle.{hook}")


def action_plan(ctx: PodContext, container: Any, handler: Any, allowed: tuple[str, ...],
                path: str) -> ActionPlan | None:
    present = [kind for kind in allowed if dict.get(handler, kind) is not None]
    if len(present) != 1:
        shown = ", ".join(allowed)
        problem = "needs one handler" if not present else f"has {len(present)} handlers; keep one"
        ctx.error(handler.line if hasattr(handler, "line") else 0, path, f"{problem} ({shown})")
        return None
    kind = present[0]
    body = handler.get(kind)
    if kind == "exec":
        return ActionPlan(kind="exec", command=tuple(body.get("command") or ()))
    if kind == "sleep":
        return ActionPlan(kind="sleep", seconds=body.get("seconds") or 0)
    port = _port_number(ctx, container, body, f"{path}.{kind}.port")
    if kind == "httpGet":
        headers = tuple((h.get("name") or "", h.get("value") or "") for h in body.get("httpHeaders") or ())
        return ActionPlan(kind="httpGet", path=body.get("path") or "/", port=port, host=body.get("host") or "",
                          scheme=body.get("scheme") or "HTTP", headers=headers)
    if kind == "grpc":
        return ActionPlan(kind="grpc", port=port, service=body.get("service") or "")
    return ActionPlan(kind="tcpSocket", port=port, host=body.get("host") or "")


def _port_number(ctx: PodContext, container: Any, body: Any, path: str) -> int | str | None:
    port = body.get("port")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, int):
        if not 1 <= port <= 65535:
            ctx.error(line_of(body, "port"), path, f"{port} is not a port number (1-65535)")
        return port
    for declared in dict.get(container, "ports") or ():
        if dict.get(declared, "name") == port:
            return dict.get(declared, "containerPort")
    ctx.error(line_of(body, "port"), path, f'no port named "{port}" in this container\'s ports')
    return port

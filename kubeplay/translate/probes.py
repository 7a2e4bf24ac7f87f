"""Probes and lifecycle hooks as ActionPlan/ProbePlan; named ports resolve to numbers now.

What the engine could not run is refused here, before anything starts: a port no container port
is named, an empty exec command, a scheme other than HTTP(S), a period below one second. A grpc
probe and a tcpSocket hook are named in a warning (an error with --strict): they are not run."""

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
    path = f"{path}.{field}"
    action = action_plan(ctx, container, probe, PROBE_ACTIONS, path)
    if action is None:
        return None
    if action.kind == "grpc":
        ctx.issues.lenient(ctx.doc.file, line_of(probe, "grpc") or ctx.doc.line, f"{path}.grpc",
                           "kubeplay does not run grpc probes: this probe is not run (the container counts as "
                           "passing it); use an exec probe with grpc_health_probe, or a tcpSocket probe")
    plan = ProbePlan(
        action=action,
        initial_delay_seconds=_seconds(ctx, probe, "initialDelaySeconds", path, default=0, least=0),
        # a period of 0 would mean the API server's default; here it is refused, as a likely mistake
        period_seconds=_seconds(ctx, probe, "periodSeconds", path, default=10, least=1, zero_is_default=False),
        timeout_seconds=_seconds(ctx, probe, "timeoutSeconds", path, default=1, least=1),
        success_threshold=_seconds(ctx, probe, "successThreshold", path, default=1, least=1),
        failure_threshold=_seconds(ctx, probe, "failureThreshold", path, default=3, least=1),
        termination_grace_period_seconds=probe.get("terminationGracePeriodSeconds"),
    )
    if field != "readinessProbe" and plan.success_threshold != 1:
        ctx.error(line_of(probe, "successThreshold"), f"{path}.successThreshold",
                  f"must be 1 for a {field} (only a readinessProbe may ask for more successes)")
    grace = plan.termination_grace_period_seconds
    if grace is not None and (field == "readinessProbe" or not isinstance(grace, int) or grace < 1):
        problem = "a readinessProbe kills nothing" if field == "readinessProbe" else "must be at least 1"
        ctx.error(line_of(probe, "terminationGracePeriodSeconds"), f"{path}.terminationGracePeriodSeconds", problem)
    return plan


def _seconds(ctx: PodContext, probe: Any, key: str, path: str, *, default: int, least: int,
             zero_is_default: bool = True) -> int:
    """A probe's number as Kubernetes defaults it (absent, or 0 where the API server defaults 0);
    below `least` is an error naming the field."""
    value = probe.get(key)
    if value is None or (value == 0 and zero_is_default):
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        ctx.error(line_of(probe, key), f"{path}.{key}", f"{value!r} is not allowed: it must be at least {least}")
        return default
    return value


def hook_plan(ctx: PodContext, container: Any, hook: str, path: str) -> ActionPlan | None:
    lifecycle = container.get("lifecycle") or {}
    handler = lifecycle.get(hook)
    if handler is None:
        return None
    action = action_plan(ctx, container, handler, HOOK_ACTIONS, f"{path}.lifecycle.{hook}")
    if action is not None and action.kind == "tcpSocket":
        ctx.issues.lenient(ctx.doc.file, line_of(handler, "tcpSocket") or ctx.doc.line,
                           f"{path}.lifecycle.{hook}.tcpSocket",
                           "a tcpSocket lifecycle hook is not run (Kubernetes does not run one either)")
        return None
    return action


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
        command = tuple(body.get("command") or ())
        if not command or not command[0]:
            ctx.error(line_of(handler, "exec"), f"{path}.exec.command",
                      "is empty: an exec handler needs a command to run")
        return ActionPlan(kind="exec", command=command)
    if kind == "sleep":
        return ActionPlan(kind="sleep", seconds=body.get("seconds") or 0)
    port = _port_number(ctx, container, body, f"{path}.{kind}.port")
    if kind == "httpGet":
        headers = tuple((h.get("name") or "", h.get("value") or "") for h in body.get("httpHeaders") or ())
        scheme = body.get("scheme") or "HTTP"
        if scheme not in ("HTTP", "HTTPS"):
            ctx.error(line_of(body, "scheme"), f"{path}.httpGet.scheme", f'"{scheme}" is not HTTP or HTTPS')
        return ActionPlan(kind="httpGet", path=body.get("path") or "/", port=port, host=body.get("host") or "",
                          scheme=scheme, headers=headers)
    if kind == "grpc":
        return ActionPlan(kind="grpc", port=port, service=body.get("service") or "")
    return ActionPlan(kind="tcpSocket", port=port, host=body.get("host") or "")


def _port_number(ctx: PodContext, container: Any, body: Any, path: str) -> int | str | None:
    port = body.get("port")
    if port is None or port == "":
        ctx.error(line_of(body, "port") or getattr(body, "line", 0), path, "is missing: give a number or a port name")
        return None
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

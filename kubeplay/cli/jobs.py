"""`kubeplay jobs`: Jobs and their progress, as `kubectl get jobs` shows them; and the hidden
`jobs deadline` sleeper that enforces activeDeadlineSeconds."""

from __future__ import annotations

import time

import click

from kubeplay.cli.options import namespace_options, resolve_namespace
from kubeplay.cli.render import echo_json, table
from kubeplay.config import Settings


def duration(seconds: float) -> str:
    """kubectl's DURATION: 8s, 2m5s, 3h4m, 2d3h."""
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def job_summary(status, now: float) -> dict:
    return {
        "name": status.name,
        "namespace": status.namespace,
        "status": status.state,
        "reason": status.reason,
        "completions": status.completions_text,
        "succeeded": status.succeeded,
        "failed": status.failed,
        "active": status.active,
        "duration": (status.finished_at or now) - status.started_at,
        "startTime": status.started_at,
        "completionTime": status.finished_at if status.state == "Complete" else None,
        "pods": list(status.pods),
    }


FORMAT_HELP = "A table as kubectl prints it, or JSON."


@click.group(invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", help=FORMAT_HELP)
@namespace_options
@click.pass_context
def jobs(ctx: click.Context, fmt: str, namespace: str | None, all_namespaces: bool) -> None:
    """List Jobs: NAME COMPLETIONS DURATION STATUS."""
    if ctx.invoked_subcommand is None:
        _list(ctx.obj, fmt, resolve_namespace(namespace, all_namespaces))


@jobs.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", help=FORMAT_HELP)
@namespace_options
@click.pass_obj
def ls(settings: Settings, fmt: str, namespace: str | None, all_namespaces: bool) -> None:
    """List Jobs (as `kubeplay jobs`)."""
    _list(settings, fmt, resolve_namespace(namespace, all_namespaces))


def _list(settings: Settings, fmt: str, namespace: str | None) -> None:
    from kubeplay.pods.engine import Engine
    from kubeplay.controllers.jobs import list_jobs

    now = time.time()
    summaries = [job_summary(status, now) for status in list_jobs(Engine(settings))
                 if namespace is None or status.namespace == namespace]
    if fmt == "json":
        echo_json(summaries)
        return
    first = ["NAMESPACE"] if namespace is None else []
    table(first + ["NAME", "COMPLETIONS", "DURATION", "STATUS"],
          [([s["namespace"]] if namespace is None else []) + [s["name"], s["completions"], duration(s["duration"]),
            s["status"] + (f" ({s['reason']})" if s["reason"] else "")] for s in summaries])


@jobs.command("deadline", hidden=True)
@click.argument("namespace")
@click.argument("name")
@click.argument("uid")
@click.pass_obj
def deadline(settings: Settings, namespace: str, name: str, uid: str) -> None:
    """Sleep until the job's activeDeadlineSeconds, then fail it (ends early when the job is over)."""
    from kubeplay.pods.engine import Engine
    from kubeplay.controllers.jobs import watch_deadline

    watch_deadline(Engine(settings), namespace, name, uid)

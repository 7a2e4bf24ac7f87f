"""`kubeplay events [POD]`: what happened to pods, as `kubectl events` lists it."""

from __future__ import annotations

import time

import click

from kubeplay.cli.options import namespace_options, resolve_namespace
from kubeplay.cli.render import age, echo_json, table
from kubeplay.config import Settings
from kubeplay.cli.completion import names_of


@click.command()
@click.argument("pod", required=False, shell_complete=names_of("pod"))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="A table as kubectl prints it, or JSON.")
@namespace_options
@click.pass_obj
def events(settings: Settings, pod: str | None, fmt: str, namespace: str | None, all_namespaces: bool) -> None:
    """List events (probe failures, kills, hooks, starts, back-off) of POD, or of every pod."""
    from kubeplay.cli.pods import event_info
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.pods.engine import Engine
    from kubeplay.store.events import EventStore

    engine = Engine(settings)
    if pod is not None:
        engine.store.get_pod(pod)  # an unknown name is an error, not an empty list
        ensure_monitors(engine, [pod])
    scope = resolve_namespace(namespace, all_namespaces) if pod is None else None  # a pod's name is unique here
    namespaces = {overview.name: overview.namespace for overview in engine.store.pod_overviews()}
    listed = [e for e in EventStore(engine.db).list(pod) if scope is None or namespaces.get(e.pod) == scope]
    if fmt == "json":
        echo_json([{"pod": e.pod, "namespace": namespaces.get(e.pod, "default"), **event_info(e)} for e in listed])
        return
    now = time.time()
    first = ["NAMESPACE"] if scope is None and pod is None else []
    table(first + ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
          [([namespaces.get(e.pod, "default")] if first else [])
           + [age(e.last_at, now) + (f" (x{e.count} over {age(e.first_at, now)})" if e.count > 1 else ""), e.type,
              e.reason, f"pod/{e.pod}" + (f"/{e.container}" if e.container else ""), e.message] for e in listed])

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
    from kubeplay.errors import UserError
    from kubeplay.names import DEFAULT_NAMESPACE, split_pod_key
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.pods.engine import Engine
    from kubeplay.store.events import EventStore

    engine = Engine(settings)
    scope = resolve_namespace(namespace, all_namespaces)
    key = None
    if pod is not None:
        if scope is None:
            raise UserError("-A lists the events of every pod: a pod named alone is looked up in one namespace",
                            hint="name its namespace with -n NS")
        key = engine.store.named_key(scope, pod)  # an unknown name is an error, not an empty list
        ensure_monitors(engine, [key])
    namespaces = {overview.key: overview.namespace for overview in engine.store.pod_overviews()}
    listed = [e for e in EventStore(engine.db).list(key) if scope is None or namespaces.get(e.pod) == scope]
    if fmt == "json":
        echo_json([{"pod": split_pod_key(e.pod)[1], "namespace": namespaces.get(e.pod, DEFAULT_NAMESPACE),
                    **event_info(e)} for e in listed])
        return
    now = time.time()
    first = ["NAMESPACE"] if scope is None else []
    table(first + ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
          [([namespaces.get(e.pod, DEFAULT_NAMESPACE)] if first else [])
           + [age(e.last_at, now) + (f" (x{e.count} over {age(e.first_at, now)})" if e.count > 1 else ""), e.type,
              e.reason, f"pod/{split_pod_key(e.pod)[1]}" + (f"/{e.container}" if e.container else ""), e.message]
           for e in listed])

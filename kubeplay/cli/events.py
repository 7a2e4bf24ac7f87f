"""`kubeplay events [POD]`: what happened to pods, as `kubectl events` lists it."""

from __future__ import annotations

import time

import click

from kubeplay.cli.render import age, echo_json, table
from kubeplay.config import Settings


@click.command()
@click.argument("pod", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def events(settings: Settings, pod: str | None, fmt: str) -> None:
    """List events (probe failures, kills, hooks, starts, back-off) of POD, or of every pod."""
    from kubeplay.cli.pods import event_info
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.pods.engine import Engine
    from kubeplay.store.events import EventStore

    engine = Engine(settings)
    if pod is not None:
        engine.store.get_pod(pod)  # an unknown name is an error, not an empty list
        ensure_monitors(engine, [pod])
    listed = EventStore(engine.db).list(pod)
    if fmt == "json":
        echo_json([{"pod": e.pod, **event_info(e)} for e in listed])
        return
    now = time.time()
    table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
          [(age(e.last_at, now) + (f" (x{e.count} over {age(e.first_at, now)})" if e.count > 1 else ""), e.type,
            e.reason, f"pod/{e.pod}" + (f"/{e.container}" if e.container else ""), e.message) for e in listed])

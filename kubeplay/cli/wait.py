"""`kubeplay wait`: until pods are ready, complete or deleted."""

from __future__ import annotations

import click

from kubeplay.cli.options import namespace_option, pod_keys
from kubeplay.config import Settings
from kubeplay.cli.completion import names_of


@click.command()
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("pod"))
@click.option("--for", "condition", type=click.Choice(["ready", "delete", "complete"]), default="ready",
              help="ready: every container ready (a Job's pod: the Job complete); complete: succeeded; "
                   "delete: gone.")
@click.option("--timeout", default="5m", show_default=True, help="How long to wait: 90s, 5m, 1h.")
@namespace_option
@click.pass_obj
def wait(settings: Settings, names: tuple[str, ...], condition: str, timeout: str, namespace: str) -> None:
    """Wait until the pods NAMES are ready (or complete, or deleted); exits 1 naming what is not."""
    from kubeplay.controllers.wait import parse_duration, wait_for
    from kubeplay.pods.engine import Engine

    wait_for(Engine(settings), pod_keys(namespace, names), condition, parse_duration(timeout),
             report=lambda text: click.echo(text, err=True))
    for name in dict.fromkeys(names):
        click.echo(f"pod/{name} condition met")

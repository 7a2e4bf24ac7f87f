"""`kubeplay logs`."""

from __future__ import annotations

import click

from kubeplay.config import Settings


@click.command()
@click.argument("pod")
@click.option("-c", "--container", default=None, help="Container name (needed when the pod has several).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing while the container runs.")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its time.")
@click.option("-p", "--previous", is_flag=True, help="The log of the run before the last restart.")
@click.pass_obj
def logs(settings: Settings, pod: str, container: str | None, follow: bool, tail: int | None,
         timestamps: bool, previous: bool) -> None:
    """Print a container's logs."""
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.logs import show_logs

    engine = Engine(settings)
    ensure_monitors(engine, [pod])  # a probe monitor found dead is started again
    show_logs(engine, pod, container, follow=follow, tail=tail, timestamps=timestamps, previous=previous)

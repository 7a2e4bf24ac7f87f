"""Commands conmon and kubeplay call back; not for users."""

from __future__ import annotations

import click

from kubeplay.config import Settings


@click.command("container-exited", hidden=True)
@click.argument("container_id")
@click.pass_obj
def container_exited(settings: Settings, container_id: str) -> None:
    """Record a container's exit and apply its restart policy (conmon's --exit-command)."""
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.restarts import container_exited as record_exit

    record_exit(Engine(settings), container_id)


@click.command("container-restart", hidden=True)
@click.argument("container_id")
@click.pass_obj
def container_restart(settings: Settings, container_id: str) -> None:
    """Wait out a container's restart back-off, then start it again."""
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.restarts import restart_container

    restart_container(Engine(settings), container_id)

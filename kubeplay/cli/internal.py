"""Commands that conmon and kubeplay call back; hidden from users.

conmon runs `kubeplay --root R --runroot RR container-exited ID` when a container ends (its
--exit-command), and that call hands a due restart to a detached `kubeplay container-restart ID`.
"""

from __future__ import annotations

import click


def run_verb(settings, verb: str, container_id: str) -> None:
    from kubeplay.controllers.endpoints import container_changed
    from kubeplay.pods.engine import Engine

    engine = Engine(settings)
    if verb == "container-exited":
        from kubeplay.controllers.restarts import container_exited as record_exit

        record_exit(engine, container_id)
        from kubeplay.controllers.launch import start_job_monitors

        start_job_monitors(engine, container_id)  # a Job's next pods, started just now, are probed from the start
    else:
        from kubeplay.controllers.restarts import restart_container

        restart_container(engine, container_id)
    container_changed(engine, container_id)  # the Services selecting its pod follow it


@click.command("container-exited", hidden=True)
@click.argument("container_id")
@click.pass_obj
def container_exited(settings, container_id: str) -> None:
    """Record a container's exit and apply its restart policy (conmon's --exit-command)."""
    run_verb(settings, "container-exited", container_id)


@click.command("container-restart", hidden=True)
@click.argument("container_id")
@click.pass_obj
def container_restart(settings, container_id: str) -> None:
    """Wait out a container's restart back-off, then start it again."""
    run_verb(settings, "container-restart", container_id)

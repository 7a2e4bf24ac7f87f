"""`kubeplay exec`."""

from __future__ import annotations

import sys

import click

from kubeplay.config import Settings


@click.command("exec", context_settings={"ignore_unknown_options": False})
@click.argument("pod")
@click.argument("command", nargs=-1, required=True)
@click.option("-c", "--container", default=None, help="Container name (needed when the pod has several).")
@click.option("-i", "--stdin", "interactive", is_flag=True, help="Pass stdin to the command.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a terminal.")
@click.pass_obj
def exec_(settings: Settings, pod: str, command: tuple[str, ...], container: str | None,
          interactive: bool, tty: bool) -> None:
    """Run COMMAND in a running container of POD; exits with COMMAND's exit code (use -- before it)."""
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.execute import exec_in_pod

    engine = Engine(settings)
    ensure_monitors(engine, [pod])  # a probe monitor found dead is started again
    code = exec_in_pod(engine, pod, list(command), container=container, interactive=interactive, tty=tty)
    sys.exit(code)

"""`kubeplay exec`."""

from __future__ import annotations

import os
import sys

import click

from kubeplay.cli.completion import complete_container, complete_pod_reference
from kubeplay.cli.options import namespace_option
from kubeplay.config import Settings


@click.command("exec", context_settings={"ignore_unknown_options": False})
@click.argument("pod", shell_complete=complete_pod_reference)
@click.argument("command", nargs=-1, required=True)
@click.option("-c", "--container", default=None, shell_complete=complete_container,
              help="Container name (default: the pod's kubectl.kubernetes.io/default-container, else its first).")
@click.option("-i", "--stdin", "interactive", is_flag=True, help="Pass stdin to the command.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a terminal.")
@click.option("-e", "--env", "env", multiple=True,
              help="Set KEY=VALUE in the command's environment (KEY alone: this shell's value); repeatable.")
@click.option("-u", "--user", default="", help="Run as USER[:GROUP] (names or ids of the container's own files).")
@click.option("-w", "--workdir", default="", help="Run in this directory of the container.")
@namespace_option
@click.pass_obj
def exec_(settings: Settings, pod: str, command: tuple[str, ...], container: str | None,
          interactive: bool, tty: bool, env: tuple[str, ...], user: str, workdir: str, namespace: str) -> None:
    """Run COMMAND in a running container of POD (NAME, pod/NAME, deploy/NAME, job/NAME, svc/NAME);
    exits with COMMAND's exit code (use -- before it)."""
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.execute import exec_in_pod

    tty = usable_tty(interactive, tty)
    engine = Engine(settings)
    if "/" not in pod:
        from kubeplay.cli.options import pod_keys

        ensure_monitors(engine, pod_keys(namespace, [pod]))  # a probe monitor found dead is started again
    code = exec_in_pod(engine, pod, list(command), container=container, interactive=interactive, tty=tty,
                       env=parse_env(env), user=user, workdir=workdir, namespace=namespace,
                       notice=lambda text: click.echo(text, err=True))
    sys.exit(code)


def usable_tty(interactive: bool, tty: bool) -> bool:
    """As kubectl: a terminal only with -i too, and only when stdin is one (else said, and run without)."""
    if not (tty and interactive):
        return False
    if not sys.stdin.isatty():
        click.echo("Unable to use a TTY - input is not a terminal or the right kind of file", err=True)
        return False
    return True


def parse_env(entries: tuple[str, ...]) -> dict[str, str]:
    """-e KEY=VALUE, or -e KEY for this process's own value (left out when it has none), as podman."""
    from kubeplay.errors import UserError

    env: dict[str, str] = {}
    for entry in entries:
        key, equals, value = entry.partition("=")
        if not key:
            raise UserError(f"-e {entry!r}: no variable name", hint="write -e KEY=VALUE")
        if equals:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    return env

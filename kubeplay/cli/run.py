"""`kubeplay run`: start a pod from flags (like `kubectl run`), or add a container to a running pod."""

from __future__ import annotations

import sys

import click

from kubeplay.cli.options import namespace_option
from kubeplay.config import Settings


@click.command()
@click.argument("name")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.option("--image", required=True, help="The container's image.")
@click.option("--port", "ports", multiple=True, metavar="[[IP:]HOST:]CONTAINER[/PROTO]",
              help="A container port; with HOST it is published on the host. Repeatable.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="An environment variable. Repeatable.")
@click.option("--volume", "volumes", multiple=True, metavar="SOURCE:DEST[:ro]",
              help="A host path (/path, ./path) or a named volume, mounted at DEST. Repeatable.")
@click.option("--restart", type=click.Choice(["Always", "OnFailure", "Never"]), default=None,
              help="The pod's restartPolicy (default Always).")
@click.option("--labels", "labels", multiple=True, metavar="KEY=VALUE[,KEY=VALUE]",
              help="Pod labels (default run=NAME).")
@click.option("--pod", "pod", default=None, metavar="EXISTING",
              help="Add the container NAME to this running pod instead of making a pod.")
@click.option("--command", "as_command", is_flag=True,
              help="The words after -- replace the image's ENTRYPOINT, not its CMD.")
@click.option("--image-pull-policy", type=click.Choice(["Always", "IfNotPresent", "Never"]), default=None,
              help="When to pull the image, as imagePullPolicy (default: Always for :latest, else IfNotPresent).")
@click.option("--network", default="", help="The kubeplay network (default: kubeplay; none: loopback only).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@namespace_option
@click.pass_obj
def run(settings: Settings, name: str, argv: tuple[str, ...], image: str, ports: tuple[str, ...],
        env: tuple[str, ...], volumes: tuple[str, ...], restart: str | None, labels: tuple[str, ...],
        pod: str | None, as_command: bool, image_pull_policy: str | None, network: str, quiet: bool,
        namespace: str) -> None:
    """Run IMAGE as a new pod NAME (or, with --pod, as container NAME of a running pod).

    Words after `--` are the container's arguments: kubeplay run web --image busybox -- httpd -f
    """
    from kubeplay.errors import UserError
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.run import add_container, run_pod
    from kubeplay.translate.flags import RunRequest, joining_container, pod_plan

    if pod is not None and network:
        raise UserError("--network cannot be given with --pod: the container joins the pod's network",
                        hint="leave --network out")
    request = RunRequest(name=name, image=image, ports=ports, env=env, volumes=volumes, labels=labels,
                         restart=restart, argv=argv, command=as_command, image_pull_policy=image_pull_policy,
                         network=network, namespace=namespace)
    engine = Engine(settings)
    progress = None if quiet or not sys.stderr.isatty() else (lambda message: click.echo(message, err=True))
    if pod is None:
        run_pod(engine, pod_plan(request), progress)
        if not quiet:
            click.echo(f"pod/{name} created")
        return
    add_container(engine, engine.store.named_key(namespace, pod), *joining_container(request, pod), progress)
    if not quiet:
        click.echo(f"pod/{pod}: container {name} created")

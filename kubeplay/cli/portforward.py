"""`kubeplay port-forward`."""

from __future__ import annotations

import click

from kubeplay.cli.options import namespace_option
from kubeplay.config import Settings


@click.command("port-forward")
@click.argument("target")
@click.argument("ports", nargs=-1, required=True)
@namespace_option
@click.pass_obj
def port_forward(settings: Settings, target: str, ports: tuple[str, ...], namespace: str) -> None:
    """Forward local ports on 127.0.0.1 into a pod until Ctrl-C: TARGET is NAME, pod/NAME,
    deploy/NAME or svc/NAME; each of PORTS is [LOCAL:]REMOTE (8080:80, 80, or :80 for any free
    local port). No hostPort is needed; a refused connection is reported and forwarding goes on."""
    import signal

    from kubeplay.pods.engine import Engine
    from kubeplay.pods.portforward import prepare_forward

    engine = Engine(settings)
    forwarder = prepare_forward(engine, target, list(ports), report=lambda text: click.echo(f"error: {text}", err=True),
                                namespace=namespace)
    try:
        for local, remote in forwarder.listen():
            click.echo(f"Forwarding from 127.0.0.1:{local} -> {remote}")
        forwarder.serve()
    except KeyboardInterrupt as interrupt:
        if getattr(interrupt, "signum", signal.SIGINT) not in (signal.SIGINT, signal.SIGTERM):
            raise
        # Ctrl-C (or a service manager's SIGTERM) is how port-forward is ended: not a failure
    finally:
        forwarder.close()

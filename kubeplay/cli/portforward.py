"""`kubeplay port-forward`."""

from __future__ import annotations

import click

from kubeplay.cli.completion import complete_pod_reference
from kubeplay.cli.options import namespace_option
from kubeplay.config import Settings


@click.command("port-forward")
@click.argument("target", shell_complete=complete_pod_reference)
@click.argument("ports", nargs=-1, required=True)
@click.option("--address", default="localhost", show_default=True,
              help="Where to listen: IP addresses or localhost, comma-separated (0.0.0.0: every IPv4 address).")
@namespace_option
@click.pass_obj
def port_forward(settings: Settings, target: str, ports: tuple[str, ...], address: str, namespace: str) -> None:
    """Forward local ports (on 127.0.0.1 unless --address) into a pod until Ctrl-C: TARGET is NAME,
    pod/NAME, deploy/NAME or svc/NAME; each of PORTS is [LOCAL:]REMOTE (8080:80, 80, or :80 for any
    free local port). No hostPort is needed; a refused connection is reported and forwarding goes on.
    When the pod is removed or stops, port-forward ends with exit 1 ("lost connection to pod"); with
    svc/NAME it moves on to another ready pod of the Service, while there is one."""
    import signal

    from kubeplay.pods.engine import Engine
    from kubeplay.pods.forwardroute import prepare_forward
    from kubeplay.pods.portforward import host_port, listen_addresses

    addresses = listen_addresses(address)
    engine = Engine(settings)
    forwarder, follow = prepare_forward(engine, target, list(ports),
                                        report=lambda text: click.echo(f"error: {text}", err=True),
                                        notice=lambda text: click.echo(text, err=True), addresses=addresses,
                                        namespace=namespace)
    try:
        for where, local, remote in forwarder.listen():
            click.echo(f"Forwarding from {host_port(where, local)} -> {remote}")
        forwarder.serve(follow=follow)  # ends with an error when the pod goes and nothing can replace it
    except KeyboardInterrupt as interrupt:
        if getattr(interrupt, "signum", signal.SIGINT) not in (signal.SIGINT, signal.SIGTERM):
            raise
        # Ctrl-C (or a service manager's SIGTERM) is how port-forward is ended: not a failure
    finally:
        forwarder.close()

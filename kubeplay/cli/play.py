"""`kubeplay play` and `kubeplay down`: manifests in, pods out."""

from __future__ import annotations

import click

from kubeplay.cli.manifests import down_files, play_files
from kubeplay.cli.playflags import podman_play_options
from kubeplay.config import Settings


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Unknown fields and unsupported kinds are errors, not warnings.")
@click.option("--network", default="", help="The kubeplay network for the pods (default: kubeplay; none: loopback only).")
@click.option("--replace", is_flag=True, help="Remove the pods of these manifests first, if they exist.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--patch", "patches", multiple=True, type=click.Path(dir_okay=False),
              help="A patch file: a strategic merge patch naming kind and metadata.name (as kubectl patch), "
                   "or target: with patch: (RFC 6902), merge: (RFC 7386) or strategic:.")
@click.option("--configmap", "configmaps", multiple=True, type=click.Path(dir_okay=False),
              help="A file of ConfigMaps the manifests may use.")
@click.option("--publish", "-p", multiple=True, help="Publish a port: [IP:]HOST:CONTAINER[/tcp|udp].")
@click.option("--start/--no-start", default=True, help="Start the pods (default), or only create them.")
@click.option("--dry-run", is_flag=True, help="Print the pods that would be created, and create nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="How to list what was created.")
@click.option("--wait", "wait", is_flag=True,
              help="Return once every pod is ready (a Job's: complete); exit 1 naming what is not.")
@click.option("--timeout", default="5m", show_default=True, help="How long --wait waits: 90s, 5m, 1h.")
@click.option("--service", is_flag=True,
              help="Stay as the process a service manager watches: READY=1 (sd_notify) once every pod is "
                   "ready; on SIGTERM the pods go down. For systemd units (`kubeplay generate systemd`).")
@podman_play_options
@click.pass_obj
def play(settings: Settings, files: tuple[str, ...], strict: bool, network: str, replace: bool, quiet: bool,
         patches: tuple[str, ...], configmaps: tuple[str, ...], publish: tuple[str, ...], start: bool,
         dry_run: bool, fmt: str, wait: bool, timeout: str, service: bool, **podman_flags) -> None:
    """Play Kubernetes YAML: create and start its pods (FILES may be files, directories or -).

    Under systemd (NOTIFY_SOCKET set) it reports progress and sends READY=1 once the pods are ready;
    sockets passed by socket activation (LISTEN_FDS) go to the container named by the pod's
    kubeplay.io/socket-activation annotation."""
    from kubeplay.cli.playflags import pod_flags, pull_options

    if service and (dry_run or not start):
        from kubeplay.errors import UserError

        raise UserError("--service stays with running pods: it cannot go with --dry-run or --no-start",
                        hint="drop --service, or --dry-run/--no-start")
    wait_seconds = None
    if wait or service:
        from kubeplay.controllers.wait import parse_duration

        wait_seconds = parse_duration(timeout)  # a bad duration is refused before anything is made
    flags = pod_flags(**podman_flags)  # refused before anything is read or made, as the duration
    session = None
    if not dry_run:
        from kubeplay.cli.render import echo
        from kubeplay.controllers.unit_session import ServiceSession

        session = ServiceSession.from_environment(lambda message: echo(f"warning: {message}", err=True))
    try:
        play_files(settings, files, strict=strict, network=network, replace=replace, quiet=quiet, patches=patches,
                   configmaps=configmaps, publish=publish, start=start, dry_run=dry_run, fmt=fmt, wait=wait_seconds,
                   session=session, service=service, pod_flags=flags, pull_options=pull_options(**podman_flags))
    finally:
        if session is not None:
            session.close()  # a failed play leaves no relay socket in the run root


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--volumes", is_flag=True, help="Also remove the named volumes of the PersistentVolumeClaims.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_obj
def down(settings: Settings, files: tuple[str, ...], volumes: bool, quiet: bool) -> None:
    """Remove the pods that playing FILES made (and with --volumes their claims' volumes)."""
    import os

    if os.environ.get("NOTIFY_SOCKET"):  # an ExecStop= of a unit: the service manager hears STOPPING=1
        from kubeplay.cli.render import echo
        from kubeplay.controllers.unit_session import notify_stopping

        notify_stopping(lambda message: echo(f"warning: {message}", err=True))
    down_files(settings, files, volumes=volumes, quiet=quiet)

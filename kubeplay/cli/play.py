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
@podman_play_options
@click.pass_obj
def play(settings: Settings, files: tuple[str, ...], strict: bool, network: str, replace: bool, quiet: bool,
         patches: tuple[str, ...], configmaps: tuple[str, ...], publish: tuple[str, ...], start: bool,
         dry_run: bool, fmt: str, wait: bool, timeout: str, **podman_flags) -> None:
    """Play Kubernetes YAML: create and start its pods (FILES may be files, directories or -)."""
    from kubeplay.cli.playflags import pod_flags, pull_options

    wait_seconds = None
    if wait:
        from kubeplay.controllers.wait import parse_duration

        wait_seconds = parse_duration(timeout)  # a bad duration is refused before anything is made
    flags = pod_flags(**podman_flags)  # refused before anything is read or made, as the duration
    play_files(settings, files, strict=strict, network=network, replace=replace, quiet=quiet, patches=patches,
               configmaps=configmaps, publish=publish, start=start, dry_run=dry_run, fmt=fmt, wait=wait_seconds,
               pod_flags=flags, pull_options=pull_options(**podman_flags))


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--volumes", is_flag=True, help="Also remove the named volumes of the PersistentVolumeClaims.")
@click.option("-q", "--quiet", is_flag=True)
@click.pass_obj
def down(settings: Settings, files: tuple[str, ...], volumes: bool, quiet: bool) -> None:
    """Remove the pods that playing FILES made (and with --volumes their claims' volumes)."""
    down_files(settings, files, volumes=volumes, quiet=quiet)

"""`kubeplay play` and `kubeplay down`: manifests in, pods out."""

from __future__ import annotations

import sys

import click

from kubeplay.config import Settings


def _translate(files: tuple[str, ...], strict: bool, network: str):
    from kubeplay.translate import TranslateOptions, translate
    from kubeplay.translate.loader import load

    documents = load(list(files), stdin=sys.stdin if "-" in files else None)
    result = translate(documents, TranslateOptions(strict=strict, network=network))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    return result


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Unknown fields and unsupported kinds are errors, not warnings.")
@click.option("--network", default="", help="The kubeplay network for the pods (default: kubeplay; none: loopback only).")
@click.option("--replace", is_flag=True, help="Remove the pods of these manifests first, if they exist.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_obj
def play(settings: Settings, files: tuple[str, ...], strict: bool, network: str, replace: bool, quiet: bool) -> None:
    """Play Kubernetes YAML: create and start its pods (FILES may be files, directories or -)."""
    result = _translate(files, strict, network)
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.jobs import remove_pods, start_deadline_timers
    from kubeplay.pods.lifecycle import pods_for
    from kubeplay.pods.play import play as play_pods
    from kubeplay.pods.volumes import check_host_paths, ensure_claims, remove_volume

    check_host_paths(result.pods)  # before anything is made
    engine = Engine(settings)
    if replace:
        remove_pods(engine, pods_for(engine, result.pods))
    made = ensure_claims(engine, result.claims)
    progress = None if quiet or not sys.stderr.isatty() else (lambda message: click.echo(message, err=True))
    try:
        started = play_pods(engine, result.pods, progress)
    except BaseException:
        for claim in made:  # a failed play leaves no volume it made behind
            remove_volume(engine, claim, missing_ok=True)
        raise
    start_deadline_timers(engine, result.pods)
    if not quiet:
        for name in started:
            click.echo(f"pod/{name} created")
        if not result.pods:
            click.echo("no pods in these manifests", err=True)


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--volumes", is_flag=True, help="Also remove the named volumes of the PersistentVolumeClaims.")
@click.option("-q", "--quiet", is_flag=True)
@click.pass_obj
def down(settings: Settings, files: tuple[str, ...], volumes: bool, quiet: bool) -> None:
    """Remove the pods that playing FILES made (and with --volumes their claims' volumes)."""
    result = _translate(files, False, "")
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.jobs import remove_pods
    from kubeplay.pods.lifecycle import pods_for
    from kubeplay.pods.volumes import remove_claims

    engine = Engine(settings)
    names = remove_pods(engine, pods_for(engine, result.pods))
    if not quiet:
        for name in names:
            click.echo(f"pod/{name} deleted")
    if volumes:
        for claim in remove_claims(engine, result.claims):
            if not quiet:
                click.echo(f"persistentvolumeclaim/{claim} deleted")
    if not names and not quiet:
        click.echo("no pods of these manifests are running", err=True)

"""`kubeplay play` and `kubeplay down`: manifests in, pods out."""

from __future__ import annotations

import sys

import click

from kubeplay.config import Settings


def _translate(files: tuple[str, ...], strict: bool, network: str, patches: tuple[str, ...] = (),
               configmaps: tuple[str, ...] = (), publish: tuple[str, ...] = ()):
    from kubeplay.translate import TranslateOptions, translate
    from kubeplay.translate.loader import load
    from kubeplay.translate.overrides import apply_patches, apply_publish, load_configmaps

    documents = load(list(files), stdin=sys.stdin if "-" in files else None)
    documents = apply_patches(documents, list(patches)) + load_configmaps(list(configmaps))
    result = translate(documents, TranslateOptions(strict=strict, network=network))
    result.pods = apply_publish(result.pods, list(publish))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    return result


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Unknown fields and unsupported kinds are errors, not warnings.")
@click.option("--network", default="", help="The kubeplay network for the pods (default: kubeplay; none: loopback only).")
@click.option("--replace", is_flag=True, help="Remove the pods of these manifests first, if they exist.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--patch", "patches", multiple=True, type=click.Path(dir_okay=False),
              help="A patch file (RFC 6902 with target:, or a merge patch naming kind and metadata.name).")
@click.option("--configmap", "configmaps", multiple=True, type=click.Path(dir_okay=False),
              help="A file of ConfigMaps the manifests may use.")
@click.option("--publish", "-p", multiple=True, help="Publish a port: [IP:]HOST:CONTAINER[/tcp|udp].")
@click.option("--start/--no-start", default=True, help="Start the pods (default), or only create them.")
@click.option("--dry-run", is_flag=True, help="Print the pods that would be created, and create nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="How to list what was created.")
@click.pass_obj
def play(settings: Settings, files: tuple[str, ...], strict: bool, network: str, replace: bool, quiet: bool,
         patches: tuple[str, ...], configmaps: tuple[str, ...], publish: tuple[str, ...], start: bool,
         dry_run: bool, fmt: str) -> None:
    """Play Kubernetes YAML: create and start its pods (FILES may be files, directories or -)."""
    result = _translate(files, strict, network, patches, configmaps, publish)
    if dry_run:
        from kubeplay.cli.render import echo_json
        from kubeplay.model.redact import redacted_plan

        echo_json([redacted_plan(plan) for plan in result.pods])
        return
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
        started = play_pods(engine, result.pods, progress, start=start)
    except BaseException:
        for claim in made:  # a failed play leaves no volume it made behind
            remove_volume(engine, claim, missing_ok=True)
        raise
    if start:
        start_deadline_timers(engine, result.pods)
    if fmt == "json":
        from kubeplay.cli.render import echo_json

        echo_json([{"kind": "Pod", "name": name, "started": start} for name in started]
                  + [{"kind": "PersistentVolumeClaim", "name": claim} for claim in made])
    elif not quiet:
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

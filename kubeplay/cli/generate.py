"""`kubeplay generate`: the YAML of running pods, to keep, re-play, or apply on a cluster."""

from __future__ import annotations

import os
from pathlib import Path

import click

from kubeplay.config import Settings
from kubeplay.errors import UserError

TYPES = {"pod": "Pod", "deployment": "Deployment", "daemonset": "DaemonSet", "job": "Job"}


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--type", "kind", type=click.Choice(sorted(TYPES), case_sensitive=False), default=None,
              help="What to give back; default: each pod as it was played (a Deployment's pods as the Deployment).")
@click.option("--replicas", type=click.IntRange(min=0), default=None, help="Replicas of the Deployment (--type deployment).")
@click.option("--service", is_flag=True, help="Also a Service for each pod or workload with published ports.")
@click.option("--include-secrets", is_flag=True, help="Write the Secrets the pods use (left out by default).")
@click.option("-f", "--filename", "output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.pass_obj
def generate(settings: Settings, names: tuple[str, ...], kind: str | None, replicas: int | None, service: bool,
             include_secrets: bool, output: Path | None, force: bool) -> None:
    """Kubernetes YAML of the pods NAMES, that plays back to the same pods."""
    if output is not None and output.exists() and not force:
        raise UserError(f"{output} already exists", hint="choose another file, or add --force to overwrite it")
    from kubeplay.generate import GenerateOptions
    from kubeplay.generate import generate as generate_documents
    from kubeplay.pods.engine import Engine

    engine = Engine(settings)
    plans = []
    for name in dict.fromkeys(names):
        plans.append(engine.store.get_pod(name).plan)
    options = GenerateOptions(kind=TYPES[kind.lower()] if kind else None, replicas=replicas, service=service,
                              include_secrets=include_secrets)
    result = generate_documents(plans, options, image_config=_image_configs(settings),
                                claim_labels=_claim_labels(engine, plans))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    text = result.yaml
    if output is None:
        click.echo(text, nl=False)
        return
    _write(output, text)


def _image_configs(settings: Settings):
    from kubeplay.errors import NotFoundError
    from kubeplay.images.lookup import resolve_local_image

    cache: dict[str, object] = {}

    def lookup(image: str):
        if image not in cache:
            try:
                cache[image] = resolve_local_image(settings, image).config
            except NotFoundError:
                cache[image] = None  # gone since: keep every field, nothing can be compared
        return cache[image]

    return lookup


def _claim_labels(engine, plans) -> dict[str, dict[str, str]]:
    from kubeplay.store.volumes import VolumeStore

    store = VolumeStore(engine.db)
    labels = {}
    for plan in plans:
        for volume in plan.volumes:
            if volume.claim_name and (record := store.get(volume.claim_name)):
                labels[volume.claim_name] = record.labels
    return labels


def _write(output: Path, text: str) -> None:
    """Write next to the target and rename, so a reader never sees half a file."""
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"cannot write {output}: {exc.strerror or exc}",
                        hint="check that its directory exists and is writable") from exc

"""`kubeplay generate`: the YAML of running pods, to keep, re-play, or apply on a cluster."""

from __future__ import annotations

from pathlib import Path

import click

from kubeplay.cli.generating import TYPES, generate_pods
from kubeplay.cli.options import namespace_option
from kubeplay.config import Settings
from kubeplay.cli.completion import names_of


@click.command()
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("pod"))
@click.option("--type", "kind", type=click.Choice(sorted(TYPES), case_sensitive=False), default=None,
              help="What to give back; default: each pod as it was played (a Deployment's pods as the Deployment).")
@click.option("--replicas", type=click.IntRange(min=0), default=None, help="Replicas of the Deployment (--type deployment).")
@click.option("--service", is_flag=True, help="Also a Service for each pod or workload with published ports.")
@click.option("--include-secrets", is_flag=True, help="Write the Secrets the pods use (left out by default).")
@click.option("-f", "--filename", "output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@namespace_option
@click.pass_obj
def generate(settings: Settings, names: tuple[str, ...], kind: str | None, replicas: int | None, service: bool,
             include_secrets: bool, output: Path | None, force: bool, namespace: str) -> None:
    """Kubernetes YAML of the pods NAMES, that plays back to the same pods."""
    generate_pods(settings, names, kind=kind, replicas=replicas, service=service, include_secrets=include_secrets,
                  output=output, force=force, namespace=namespace)

"""`kubeplay network`: create, list, inspect and remove bridge networks."""

from __future__ import annotations

import time

import click

from kubeplay.cli.render import echo_json
from kubeplay.config import Settings


def _open(settings: Settings):
    from kubeplay.store.db import open_database

    settings.ensure_dirs()
    return open_database(settings.root)


@click.group("network")
def network() -> None:
    """Manage bridge networks that pods attach to."""


@network.command("create")
@click.argument("name")
@click.option("--subnet", metavar="CIDR", default=None,
              help="IPv4 subnet, e.g. 10.89.5.0/24; default: the next free 10.89.x.0/24.")
@click.pass_obj
def create(settings: Settings, name: str, subnet: str | None) -> None:
    """Create network NAME (its bridge is made when the first pod joins)."""
    from kubeplay.net.networks import create_network

    db = _open(settings)
    try:
        record = create_network(db, name, subnet)
    finally:
        db.close()
    click.echo(record.name)


@network.command("ls")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
              help="Output format.")
@click.pass_obj
def ls(settings: Settings, output_format: str) -> None:
    """List networks."""
    from kubeplay.model.serial import to_jsonable
    from kubeplay.net.networks import list_networks

    db = _open(settings)
    try:
        records = list_networks(db)
    finally:
        db.close()
    if output_format == "json":
        echo_json([to_jsonable(record) for record in records])
        return
    rows = [("NAME", "SUBNET", "GATEWAY", "BRIDGE", "CREATED")]
    rows += [(r.name, r.subnet, r.gateway, r.bridge, _age(r.created_at)) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _age(created_at: float) -> str:
    seconds = max(0, int(time.time() - created_at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@network.command("inspect")
@click.argument("name")
@click.pass_obj
def inspect(settings: Settings, name: str) -> None:
    """Show network NAME and the pods holding addresses on it, as JSON."""
    from kubeplay.net.networks import inspect_network

    db = _open(settings)
    try:
        info = inspect_network(db, name)
    finally:
        db.close()
    echo_json(info)


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(settings: Settings, names: tuple[str, ...]) -> None:
    """Remove networks that no pod uses, with their bridges and rules."""
    from kubeplay.net.networks import remove_network

    db = _open(settings)
    try:
        for name in names:
            remove_network(db, name)
            click.echo(name)
    finally:
        db.close()

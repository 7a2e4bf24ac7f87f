"""`kubeplay volume`: the named volumes that PersistentVolumeClaims become (ls, inspect, rm)."""

from __future__ import annotations

import time

import click

from kubeplay.cli.render import age, echo_json, table
from kubeplay.config import Settings
from kubeplay.cli.completion import names_of


def _engine(settings: Settings):
    from kubeplay.pods.engine import Engine

    return Engine(settings)


@click.group()
def volume() -> None:
    """Named volumes: made by PersistentVolumeClaims, kept by `down`, removed by `down --volumes`."""


@volume.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", help="A table, or JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Names only.")
@click.pass_obj
def ls(settings: Settings, fmt: str, quiet: bool) -> None:
    """List named volumes: NAME DRIVER USED BY AGE."""
    from kubeplay.pods.namedvolumes import volume_info
    from kubeplay.store.volumes import VolumeStore

    engine = _engine(settings)
    infos = [volume_info(engine, record) for record in VolumeStore(engine.db).list()]
    if fmt == "json":
        echo_json(infos)
        return
    if quiet:
        for info in infos:
            click.echo(info["name"])
        return
    now = time.time()
    table(["NAME", "DRIVER", "USED BY", "AGE"],
          [(i["name"], i["driver"], ",".join(i["usedBy"]) or "-", age(i["created"], now)) for i in infos])


@volume.command("inspect")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("volume"))
@click.pass_obj
def inspect(settings: Settings, names: tuple[str, ...]) -> None:
    """Show named volumes as JSON: mountpoint, labels, creation time and the pods using them."""
    from kubeplay.errors import NotFoundError
    from kubeplay.pods.namedvolumes import volume_info
    from kubeplay.store.volumes import VolumeStore

    engine = _engine(settings)
    store = VolumeStore(engine.db)
    shown = []
    for name in names:
        record = store.get(name)
        if record is None:
            raise NotFoundError(f'no volume named "{name}"', hint="`kubeplay volume ls` lists the volumes")
        shown.append(volume_info(engine, record))
    echo_json(shown)


@volume.command("rm")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("volume"))
@click.option("-f", "--force", is_flag=True, help="Also remove the pods that use the volume.")
@click.pass_obj
def rm(settings: Settings, names: tuple[str, ...], force: bool) -> None:
    """Remove named volumes and their data (refused while a pod uses one, unless -f)."""
    from kubeplay.pods.namedvolumes import remove_volume

    engine = _engine(settings)
    for name in names:
        remove_volume(engine, name, force=force)
        click.echo(name)

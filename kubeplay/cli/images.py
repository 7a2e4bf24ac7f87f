"""Image commands: pull, images, rmi, and the `image` group (ls, pull, rm, load, import, inspect, prune).

Each command parses its options, calls one function of kubeplay.images, and renders the result the
way podman does. The modules doing the work are imported inside the commands, so that listing images
never loads the registry client.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kubeplay.cli.render import echo_json, table
from kubeplay.config import Settings
from kubeplay.cli.completion import names_of
from kubeplay.model.image_summary import ImageSummary

if TYPE_CHECKING:
    from kubeplay.images.inventory import Removal


def _short_id(image_id: str, full: bool = False) -> str:
    hexpart = image_id.removeprefix("sha256:")
    return hexpart if full else hexpart[:12]


def _split_name(name: str) -> tuple[str, str]:
    """(repository, tag) of a stored name; a digest-only name has no tag."""
    base = name.partition("@")[0]
    slash, colon = base.rfind("/"), base.rfind(":")
    if colon > slash:
        return base[:colon], base[colon + 1:]
    return base, "<none>"


def _created(text: str, now: datetime.datetime | None = None) -> str:
    """podman's CREATED column: "3 days ago"."""
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    seconds = max(0, int(((now or datetime.datetime.now(datetime.timezone.utc)) - when).total_seconds()))
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                       ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a minute ago" if seconds else "Now"


def _size(size: int) -> str:
    """Decimal units with three significant digits, as podman prints them: 4.26 MB."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} TB"


def _rows(records: list[ImageSummary], full_ids: bool) -> list[list[str]]:
    rows = []
    for record in records:
        for repository, tag in [_split_name(n) for n in record.names] or [("<none>", "<none>")]:
            rows.append([repository, tag, _short_id(record.id, full_ids), _created(record.created), _size(record.size)])
    return rows


@click.command("images")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table, or JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print image ids only.")
@click.option("--no-trunc", is_flag=True, help="Print full image ids.")
@click.pass_obj
def images(settings: Settings, output_format: str, quiet: bool, no_trunc: bool) -> None:
    """List the images in the local store."""
    from kubeplay.images.inventory import image_summaries

    settings.ensure_dirs()
    records = image_summaries(settings)
    if quiet:
        for record in records:
            click.echo(_short_id(record.id, no_trunc))
    elif output_format == "json":
        echo_json([{"id": r.id, "names": list(r.names), "digest": r.manifest_digest, "created": r.created,
                    "size": r.size, "os": r.os, "architecture": r.architecture} for r in records])
    else:
        table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], _rows(records, no_trunc))


@click.command("pull")
@click.argument("reference")
@click.option("--platform", default=None, metavar="OS/ARCH[/VARIANT]", help="Pull the image for this platform.")
@click.option("--tls-verify/--no-tls-verify", default=None,
              help="Require HTTPS and verify certificates (default: as registries.conf says).")
@click.option("--authfile", type=click.Path(dir_okay=False), default=None, help="Credentials file (auth.json).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image id: no progress.")
@click.pass_obj
def pull(settings: Settings, reference: str, platform: str | None, tls_verify: bool | None,
         authfile: str | None, quiet: bool) -> None:
    """Pull an image from a registry into the local store. Progress goes to stderr: per-layer bars
    (bytes, rate, ETA) on a terminal, one line per layer otherwise; then a summary."""
    from kubeplay.cli.pullprogress import pull_progress
    from kubeplay.images.pull import pull_image

    settings.ensure_dirs()
    progress = pull_progress(quiet)
    record = pull_image(settings, reference, platform=platform, tls_verify=tls_verify, authfile=authfile,
                        progress=progress)
    if progress is not None:
        progress.finish(reference)
    click.echo(_short_id(record.id, full=True))


def _report_removal(removal: Removal) -> None:
    for name in removal.untagged:
        click.echo(f"Untagged: {name}")
    for image_id in removal.deleted:
        click.echo(f"Deleted: {_short_id(image_id, full=True)}")
    for image_id in removal.kept_in_use:
        click.echo(f"Kept: {_short_id(image_id, full=True)} (still used by containers)", err=True)


@click.command("rmi")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("image"))
@click.option("-f", "--force", is_flag=True, help="Untag even when containers use the image; delete all its names.")
@click.pass_obj
def rmi(settings: Settings, names: tuple[str, ...], force: bool) -> None:
    """Remove images (by name: untag; the image goes when no name is left, or when given by id)."""
    from kubeplay.images.inventory import remove_images

    settings.ensure_dirs()
    _report_removal(remove_images(settings, list(names), force=force))


@click.group("image")
def image() -> None:
    """Manage images: ls, pull, rm, load, import, inspect, prune."""


image.add_command(images, "ls")
image.add_command(pull, "pull")
image.add_command(rmi, "rm")


@image.command("load")
@click.option("-i", "--input", "path", required=True, type=click.Path(path_type=Path),
              help="docker-archive or oci-archive tar, or an OCI layout directory.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.pass_obj
def load(settings: Settings, path: Path, quiet: bool) -> None:
    """Load images from an archive."""
    from kubeplay.images.archive import load_archive

    settings.ensure_dirs()
    for record in load_archive(settings, path):
        if quiet:
            continue
        for name in record.names or (record.id,):
            click.echo(f"Loaded image: {name}")


@image.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("name", required=False)
@click.option("-c", "--change", "changes", multiple=True, metavar="INSTRUCTION",
              help="Dockerfile-like: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, STOPSIGNAL. Repeatable.")
@click.pass_obj
def import_(settings: Settings, path: Path, name: str | None, changes: tuple[str, ...]) -> None:
    """Make a one-layer image from a root filesystem tar (plain or gzip)."""
    from kubeplay.images.importer import import_rootfs

    settings.ensure_dirs()
    record = import_rootfs(settings, path, name, list(changes))
    click.echo(_short_id(record.id, full=True))


@image.command("inspect")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("image"))
@click.option("--format", "output_format", type=click.Choice(["json"]), default="json", show_default=True,
              help="JSON (the only format).")
@click.pass_obj
def inspect(settings: Settings, names: tuple[str, ...], output_format: str) -> None:
    """Show images in full, with their layers, as JSON."""
    from kubeplay.images.inventory import inspect_images

    settings.ensure_dirs()
    echo_json(inspect_images(settings, list(names)))


@image.command("prune")
@click.option("-a", "--all", "all_images", is_flag=True, help="Remove every image no container uses, named or not.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def prune(settings: Settings, all_images: bool, force: bool) -> None:
    """Remove images without a name (with --all: all unused images)."""
    from kubeplay.images.inventory import prune_images

    settings.ensure_dirs()
    what = "all images not used by a container" if all_images else "all images without a name"
    if not force and not click.confirm(f"This removes {what}. Continue?", default=False):
        raise click.exceptions.Abort()
    removal = prune_images(settings, all_images=all_images)
    for image_id in removal.deleted:
        click.echo(_short_id(image_id, full=True))


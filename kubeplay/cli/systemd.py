"""`kubeplay generate systemd FILE` (a unit that runs the file) and `--template` (kubeplay-kube@.service),
and the `generate` group they belong to: `kubeplay generate POD...` keeps meaning the pods' YAML."""

from __future__ import annotations

from pathlib import Path

import click

from kubeplay.config import Settings


class GenerateGroup(click.Group):
    """Subcommands (`systemd`, `pods`), with `pods` taken when the first word names none of them,
    so `kubeplay generate web` and `kubeplay generate --type deployment web` work as they did."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["pods", *args]
        return super().parse_args(ctx, args)


@click.group(cls=GenerateGroup)
def generate() -> None:
    """Generate from what kubeplay runs: the pods' YAML (`generate POD...`), or a systemd unit."""


def _pods_command() -> click.Command:
    from kubeplay.cli.generate import generate as generate_pods

    return generate_pods


generate.add_command(_pods_command(), "pods")


@generate.command()
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--template", is_flag=True, help="Print kubeplay-kube@.service, whose instance is the file path.")
@click.option("-f", "--filename", "output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_obj
def systemd(settings: Settings, file: Path | None, template: bool, output: Path | None) -> None:
    """A systemd unit that runs the pods of FILE, a file or directory (Type=notify: started once they are ready).

    Install it as /etc/systemd/system/NAME.service, then `systemctl daemon-reload` and
    `systemctl enable --now NAME`. Without a systemd here, `kubeplay system check` says why."""
    from kubeplay.errors import UserError
    from kubeplay.generate.systemd import UnitOptions, template_unit, unit_for_file

    options = UnitOptions(kubeplay=kubeplay_path(), global_args=tuple(global_args(settings)),
                          rootless=settings.rootless)
    if template == (file is not None):
        raise UserError("give either a YAML FILE or --template",
                        hint="kubeplay generate systemd app.yaml, or kubeplay generate systemd --template")
    if file is not None:
        if not file.exists():  # a directory of manifests plays as it does with `play DIR`
            raise UserError(f"{file}: no such file or directory", hint="give the YAML file the unit should play")
        text = unit_for_file(str(file.resolve()), options)
    else:
        text = template_unit(options)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)


def kubeplay_path() -> str:
    """The kubeplay that runs now, as an absolute path: the unit runs the same one."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "kubeplay"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubeplay")
    return str(Path(found).resolve()) if found else "/usr/local/bin/kubeplay"


def global_args(settings: Settings) -> list[str]:
    """--root, --runroot and --runtime where they differ from the defaults."""
    from kubeplay.config import default_root, default_runroot

    args = []
    if settings.root != default_root().absolute():
        args += ["--root", str(settings.root)]
    if settings.runroot != default_runroot().absolute():
        args += ["--runroot", str(settings.runroot)]
    if settings.runtime:
        args += ["--runtime", settings.runtime]
    return args

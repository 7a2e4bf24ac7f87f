"""`kubeplay system ...`: host-level commands; `check` reports what this machine offers kubeplay."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from kubeplay.config import Settings


def _marks(stream) -> tuple[str, str]:
    """✓/✗ where the output can show them, plain words where it cannot (a C-locale pipe, say)."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "ok", "FAIL"
    return "✓", "✗"


def render_table(checks, marks: tuple[str, str] = ("✓", "✗")) -> str:
    """One line a check, name column aligned; a failure gets an indented `fix:` line under it."""
    width = max((len(check.name) for check in checks), default=0)
    good, bad = marks
    column = max(len(good), len(bad))
    lines = []
    for check in checks:
        mark = good if check.ok else bad
        optional = "" if check.required or check.ok else " (optional)"
        lines.append(f"{mark:<{column}} {check.name:<{width}}  {check.detail}{optional}")
        if not check.ok and check.fix:
            lines.append(f"{'':<{column}} {'':<{width}}  fix: {check.fix}")
    failed = [check.name for check in checks if check.required and not check.ok]
    if failed:
        lines.append(f"\n{len(failed)} required check(s) failed: {', '.join(failed)}")
    else:
        lines.append("\nall required checks passed")
    return "\n".join(lines)


def render_json(checks) -> str:
    return json.dumps([asdict(check) for check in checks], indent=2)


@click.group()
def system() -> None:
    """Host-level commands."""


@system.command()
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.pass_obj
def check(settings: Settings, output_format: str) -> None:
    """Check what this host offers kubeplay: runtime, conmon, overlay, cgroups, networking, limits."""
    from kubeplay.system.check import required_failures, run_checks

    checks = run_checks(settings)
    if output_format == "json":
        click.echo(render_json(checks))
    else:
        click.echo(render_table(checks, _marks(sys.stdout)))
    if required_failures(checks):
        # the CLI boundary ignores a returned code (standalone_mode=False), so leave explicitly
        sys.exit(1)


@system.command()
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def reset(settings: Settings, force: bool) -> None:
    """Remove everything kubeplay made under --root and --runroot: pods, networks, rules, images, data.

    Running pods are killed at once, without their grace period. The nftables table `inet kubeplay`
    is deleted only when no other store still has rules in it. Namespaces and mounts that no pod
    accounted for (left by a crash) are removed too, each on a line of its own.
    """
    from kubeplay.errors import KubeplayError, UserError
    from kubeplay.system.reset import check_resettable
    from kubeplay.system.reset import reset as reset_store

    check_resettable(settings)
    if not force:
        question = (f"This removes every pod, network, image and volume of the store at {settings.root} "
                    f"(run root {settings.runroot}). Continue?")
        try:
            confirmed = click.confirm(question, default=False, err=True)
        except click.exceptions.Abort:
            confirmed = False  # no answer (closed stdin) is a no
        if not sys.stdin.isatty():
            click.echo(err=True)  # a piped answer is not echoed: end the prompt's line ourselves
        if not confirmed:
            raise UserError("reset cancelled; nothing was removed",
                            hint="answer y, or pass --force to skip the question")
    report = reset_store(settings)
    for kind, names in (("pod", report.pods), ("service", report.services), ("network", report.networks), ("nftables table", report.tables),
                        ("cgroup", report.cgroups), ("namespace", report.namespaces), ("mount", report.mounts),
                        ("directory", report.directories)):
        for name in names:
            click.echo(f"removed {kind} {name}")
    for table in report.tables_kept:
        click.echo(f"kept nftables table {table}: another store still has rules in it")
    if report.problems:
        raise KubeplayError("reset finished, but some things could not be removed: " + "; ".join(report.problems),
                            hint="`kubeplay system check` may tell why; re-running `system reset --force` is safe")

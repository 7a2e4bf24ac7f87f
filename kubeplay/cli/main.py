"""The `kubeplay` entry point: the single error boundary around the command tree.

Start-up cost matters here: `kubeplay --version` is answered before click or any of kubeplay is
imported, and the command tree (kubeplay.cli.lazy) is imported only once a command is to run.
"""

from __future__ import annotations

import sys


def _wants_debug(argv: list[str]) -> bool:
    import os

    return "--debug" in argv or os.environ.get("KUBEPLAY_DEBUG", "").lower() in ("1", "true", "yes")


def _print_version() -> None:
    from kubeplay import __version__

    sys.stdout.write(f"kubeplay version {__version__}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:  # the common form; others (`--root X --version`) go through click
        _print_version()
        sys.exit(0)
    import click

    from kubeplay.errors import KubeplayError

    debug = _wants_debug(argv)
    try:
        from kubeplay.cli.lazy import invoke

        returned = invoke(argv)
    except KubeplayError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else 1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # the boundary: nothing else may print a traceback
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: re-run with --debug for the traceback, and report it", err=True)
        sys.exit(125)
    sys.exit(returned if isinstance(returned, int) else 0)


def __getattr__(name: str) -> object:
    """`cli`, the click group, for callers that drive it directly (click's CliRunner)."""
    if name == "cli":
        from kubeplay.cli.lazy import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The `kubeplay` entry point: global options and the single error boundary."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from kubeplay import __version__
from kubeplay.cli.lazy import LazyGroup
from kubeplay.config import Settings, default_root, default_runroot
from kubeplay.errors import KubeplayError

COMMANDS = {
    # images
    "pull": "kubeplay.cli.images:pull",
    "images": "kubeplay.cli.images:images",
    "rmi": "kubeplay.cli.images:rmi",
    "image": "kubeplay.cli.images:image",
    "login": "kubeplay.cli.auth:login",
    "logout": "kubeplay.cli.auth:logout",
    # host
    "system": "kubeplay.cli.system:system",
    # pods
    "play": "kubeplay.cli.play:play",
    "down": "kubeplay.cli.play:down",
    "pods": "kubeplay.cli.pods:pods",
    "ps": "kubeplay.cli.pods:ps",
    "pod": "kubeplay.cli.pods:pod",
    "logs": "kubeplay.cli.logs:logs",
    "exec": "kubeplay.cli.exec:exec_",
    "jobs": "kubeplay.cli.jobs:jobs",
    "volume": "kubeplay.cli.volume:volume",
    # called back by conmon when a container exits; not for users
    "container-exited": "kubeplay.cli.internal:container_exited",
    "container-restart": "kubeplay.cli.internal:container_restart",
    # networks
    "network": "kubeplay.cli.network:network",
    "generate": "kubeplay.cli.generate:generate",
    "run": "kubeplay.cli.run:run",
}

# Commands a rootless user runs outside the per-user namespace: they touch no store, and `system
# check` must report what is missing even when the namespace cannot be made.
OUTSIDE_USER_NAMESPACE = {"system", "login", "logout"}
_help_asked = False  # `--help` anywhere before `--`: show help, never create a namespace for it


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kubeplay", message="%(prog)s version %(version)s")
@click.option("--root", type=click.Path(path_type=Path), envvar="KUBEPLAY_ROOT", default=None,
              help="Graph root: images, volumes and the state database.")
@click.option("--runroot", type=click.Path(path_type=Path), envvar="KUBEPLAY_RUNROOT", default=None,
              help="Run root: transient state, gone after a reboot.")
@click.option("--runtime", envvar="KUBEPLAY_RUNTIME", default=None,
              help="OCI runtime to use (crun, runc or a path); default: the one that works here.")
@click.option("--log-level", envvar="KUBEPLAY_LOG_LEVEL", default="warning",
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
@click.option("--debug", is_flag=True, envvar="KUBEPLAY_DEBUG", help="Show tracebacks of failures.")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, runroot: Path | None, runtime: str | None,
        log_level: str, debug: bool) -> None:
    """Play Kubernetes YAML on this machine: pods, with no daemon."""
    level = logging.DEBUG if debug else getattr(logging, log_level.upper())
    # only kubeplay's own loggers speak at the chosen level; libraries (pyroute2) stay at warnings
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("kubeplay").setLevel(level)
    ctx.obj = Settings(
        root=(root or default_root()).absolute(),
        runroot=(runroot or default_runroot()).absolute(),
        runtime=runtime,
        log_level=log_level,
        debug=debug,
    )
    if ctx.obj.rootless and ctx.invoked_subcommand not in OUTSIDE_USER_NAMESPACE and not _help_asked:
        from kubeplay.rootless.userns import enter_user_namespace

        enter_user_namespace(ctx.obj, explicit_runroot=runroot is not None)


def _wants_debug(argv: list[str]) -> bool:
    import os

    return "--debug" in argv or os.environ.get("KUBEPLAY_DEBUG", "").lower() in ("1", "true", "yes")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    debug = _wants_debug(argv)
    global _help_asked
    options = argv[:argv.index("--")] if "--" in argv else argv
    _help_asked = "--help" in options or "-h" in options
    try:
        returned = cli.main(args=argv, prog_name="kubeplay", standalone_mode=False)
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

"""The command tree: the root group and its global options, with every subcommand imported only
when it runs, to keep start-up fast. kubeplay.cli.main wraps it in the error boundary."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from kubeplay import __version__
from kubeplay.config import Settings

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
    "apply": "kubeplay.cli.apply:apply",
    "scale": "kubeplay.cli.apply:scale",
    "rollout": "kubeplay.cli.apply:rollout",
    "deployments": "kubeplay.cli.apply:deployments",
    "pods": "kubeplay.cli.pods:pods",
    "ps": "kubeplay.cli.pods:ps",
    "pod": "kubeplay.cli.pods:pod",
    "logs": "kubeplay.cli.logs:logs",
    "exec": "kubeplay.cli.exec:exec_",
    "port-forward": "kubeplay.cli.portforward:port_forward",
    "top": "kubeplay.cli.top:top",
    "jobs": "kubeplay.cli.jobs:jobs",
    "wait": "kubeplay.cli.wait:wait",
    "events": "kubeplay.cli.events:events",
    "volume": "kubeplay.cli.volume:volume",
    "services": "kubeplay.cli.services:services",
    "svc": "kubeplay.cli.services:services",
    "get": "kubeplay.cli.get:get",
    "describe": "kubeplay.cli.describe:describe",
    "completion": "kubeplay.cli.completion:completion",
    "version": "kubeplay.cli.completion:version",
    # called back by conmon when a container exits; not for users
    "container-exited": "kubeplay.cli.internal:container_exited",
    "container-restart": "kubeplay.cli.internal:container_restart",
    # networks
    "network": "kubeplay.cli.network:network",
    "generate": "kubeplay.cli.systemd:generate",
    "run": "kubeplay.cli.run:run",
}

# Commands a rootless user runs outside the per-user namespace: they touch no store, and `system
# check` must report what is missing even when the namespace cannot be made.
OUTSIDE_USER_NAMESPACE = {"system", "login", "logout", "completion"}
_help_asked = False  # `--help` anywhere before `--`: show help, never create a namespace for it
_debug = False  # --debug (or KUBEPLAY_DEBUG) as the root group parsed it; read by the error boundary


class LazyGroup(click.Group):
    """Subcommands given as {"name": "module:attribute"}, imported on first use."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, name)


ENVIRONMENT_HELP = """\b
Environment variables (besides those of the options above):
  KUBEPLAY_MAX_REPLICAS     most pods one workload may make (default 1000)
  KUBEPLAY_CREATE_TIMEOUT   seconds a container's creation may take (default 120)
  KUBEPLAY_SERVICE_CIDR     where Services' cluster IPs come from (default: a free /16 from 10.96.0.0)
  KUBEPLAY_CLUSTER_DOMAIN   NAME.NAMESPACE.svc.<this> (default cluster.local)
  REGISTRY_AUTH_FILE        registry credentials (default ${XDG_RUNTIME_DIR}/containers/auth.json)
  CONTAINERS_REGISTRIES_CONF  registries.conf to read instead of the usual ones
"""


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=ENVIRONMENT_HELP)
@click.version_option(__version__, "--version", prog_name="kubeplay", message="%(prog)s version %(version)s")
@click.option("--root", type=click.Path(path_type=Path), envvar="KUBEPLAY_ROOT", default=None, show_envvar=True,
              help="Graph root: images, volumes and the state database.")
@click.option("--runroot", type=click.Path(path_type=Path), envvar="KUBEPLAY_RUNROOT", default=None, show_envvar=True,
              help="Run root: transient state, gone after a reboot.")
@click.option("--runtime", envvar="KUBEPLAY_RUNTIME", default=None, show_envvar=True,
              help="OCI runtime to use (crun, runc or a path); default: the one that works here.")
@click.option("--log-level", envvar="KUBEPLAY_LOG_LEVEL", default="warning", show_envvar=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="How much kubeplay logs to stderr.")
@click.option("--debug", is_flag=True, envvar="KUBEPLAY_DEBUG", show_envvar=True, help="Show tracebacks of failures.")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, runroot: Path | None, runtime: str | None,
        log_level: str, debug: bool) -> None:
    """Play Kubernetes YAML on this machine: pods, with no daemon."""
    global _debug
    _debug = debug
    ctx.obj = global_settings(root, runroot, runtime, log_level.lower(), debug)
    if ctx.obj.rootless and ctx.invoked_subcommand not in OUTSIDE_USER_NAMESPACE and not _help_asked:
        from kubeplay.rootless.userns import enter_user_namespace

        enter_user_namespace(ctx.obj, explicit_runroot=runroot is not None)


def invoke(argv: list[str]) -> object:
    """Run the command tree on argv without click's own error handling (the caller is the boundary)."""
    global _help_asked
    options = argv[:argv.index("--")] if "--" in argv else argv
    _help_asked = "--help" in options or "-h" in options
    return cli.main(args=argv, prog_name="kubeplay", standalone_mode=False)


def debug_requested() -> bool:
    """Whether the command line asked for tracebacks (False when it failed before the options were read)."""
    return _debug


def global_settings(root: Path | None, runroot: Path | None, runtime: str | None, log_level: str,
                    debug: bool) -> Settings:
    """Settings from the global options (None: the default place), with logging configured."""
    from kubeplay.config import default_root, default_runroot
    from kubeplay.logs import configure

    configure(log_level, debug)
    return Settings(root=(root or default_root()).absolute(), runroot=(runroot or default_runroot()).absolute(),
                    runtime=runtime, log_level=log_level, debug=debug)

"""podman's `kube play` flags that kubeplay's `play` takes too: how images are pulled
(--tls-verify, --authfile, --creds) and what the pods get (--annotation, --ip, --mac-address,
--userns, --log-driver)."""

from __future__ import annotations

import click

OPTIONS = [
    click.option("--tls-verify/--no-tls-verify", "tls_verify", default=None,
                 help="Pull over HTTPS with verified certificates (default: as registries.conf says)."),
    click.option("--authfile", type=click.Path(dir_okay=False), default=None,
                 help="Credentials file (auth.json) for pulls; default: REGISTRY_AUTH_FILE, then podman's."),
    click.option("--creds", default=None, metavar="USER[:PASSWORD]",
                 help="Credentials for pulls (asked for on a terminal when PASSWORD is left out)."),
    click.option("--annotation", "annotations", multiple=True, metavar="KEY=VALUE",
                 help="Add an annotation to every pod; repeatable."),
    click.option("--ip", default="", help="The pod's address on its network (one pod only)."),
    click.option("--mac-address", default="", help="The pod interface's MAC address (one pod only)."),
    click.option("--userns", default="", help="User namespace: host (the only one kubeplay runs pods in)."),
    click.option("--log-driver", default="", help="Container log format: k8s-file (the only one)."),
]
PULL_FLAGS = ("tls_verify", "authfile", "creds")


def podman_play_options(command):
    for option in reversed(OPTIONS):
        command = option(command)
    return command


def pod_flags(*, annotations: tuple[str, ...], ip: str, mac_address: str, userns: str, log_driver: str,
              **pull_flags):
    from kubeplay.translate.playflags import parse_pod_flags

    return parse_pod_flags(annotations, ip, mac_address, userns, log_driver)


def pull_options(*, tls_verify: bool | None, authfile: str | None, creds: str | None, **pod_only):
    from kubeplay.pods.images import PullOptions

    return PullOptions(tls_verify=tls_verify, authfile=authfile, credentials=parse_creds(creds))


def parse_creds(creds: str | None) -> tuple[str, str] | None:
    """USER:PASSWORD as podman takes it; USER alone asks for the password on a terminal."""
    if creds is None:
        return None
    from kubeplay.errors import UserError

    user, colon, password = creds.partition(":")
    if not user:
        raise UserError("--creds: no user name", hint="write --creds USER:PASSWORD")
    if not colon:
        import sys

        if not sys.stdin.isatty():
            raise UserError("--creds: no password, and no terminal to ask for it",
                            hint="write --creds USER:PASSWORD, or `kubeplay login` first")
        password = click.prompt("Password", hide_input=True, err=True)
    return user, password

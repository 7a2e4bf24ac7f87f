"""`kubeplay login` and `kubeplay logout`: registry credentials in auth.json."""

from __future__ import annotations

import sys

import click

from kubeplay.config import Settings


def _registry_host(text: str) -> str:
    """Accept what users paste: https://host/, host/path or host, and keep host[:port]."""
    from kubeplay.images.reference import parse_host

    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    return parse_host(text.strip().rstrip("/").split("/", 1)[0])


@click.command()
@click.argument("host")
@click.option("-u", "--username", help="Registry user name (asked for if not given).")
@click.option("-p", "--password", help="Password or token (visible in the process list; prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--authfile", type=click.Path(dir_okay=False), help="Credentials file to write instead of podman's.")
@click.option("--tls-verify/--no-tls-verify", default=None,
              help="Require a trusted HTTPS certificate (default: unless registries.conf marks HOST insecure).")
@click.pass_obj
def login(settings: Settings, host: str, username: str | None, password: str | None, password_stdin: bool,
          authfile: str | None, tls_verify: bool | None) -> None:
    """Log in to registry HOST: check the credentials there, then save them."""
    from kubeplay.images.auth import store_login
    from kubeplay.images.distribution import RegistryClient
    from kubeplay.images.registries import Endpoint, RegistriesConf

    registry = _registry_host(host)
    if password is not None and password_stdin:
        raise click.UsageError("--password and --password-stdin cannot be used together")
    if password_stdin:
        if not username:
            raise click.UsageError("--password-stdin needs --username")
        password = sys.stdin.readline().rstrip("\r\n")
    if not username:
        username = click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    if not username or not password:
        raise click.UsageError("a user name and a password are both required")
    insecure = RegistriesConf.load().is_insecure(registry)
    client = RegistryClient(Endpoint(registry, insecure), image=registry,
                            credentials=(username, password), tls_verify=tls_verify)
    client.check_login()
    store_login(registry, username, password, authfile)
    click.echo("Login Succeeded!")


@click.command()
@click.argument("host", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Remove the credentials of every registry.")
@click.option("--authfile", type=click.Path(dir_okay=False), help="Credentials file to edit instead of podman's.")
@click.pass_obj
def logout(settings: Settings, host: str | None, all_: bool, authfile: str | None) -> None:
    """Forget the saved credentials of registry HOST (or of all registries with --all)."""
    from kubeplay.images.auth import remove_login

    if all_ == bool(host):
        raise click.UsageError("give either HOST or --all")
    if all_:
        remove_login(None, authfile, all=True)
        click.echo("Removed login credentials for all registries")
        return
    registry = _registry_host(host or "")
    remove_login(registry, authfile)
    click.echo(f"Removed login credentials for {registry}")

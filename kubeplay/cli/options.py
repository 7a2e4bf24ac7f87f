"""Options several listings share: `-n/--namespace` and `-A/--all-namespaces`, as kubectl has them."""

from __future__ import annotations

from collections.abc import Callable

import click

from kubeplay.errors import UserError

DEFAULT_NAMESPACE = "default"


def namespace_options(command: Callable) -> Callable:
    command = click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True,
                           help="List objects of every namespace, with a NAMESPACE column.")(command)
    return click.option("-n", "--namespace", default=None, metavar="NS",
                        help=f"Only objects of this namespace (default: {DEFAULT_NAMESPACE}).")(command)


def resolve_namespace(namespace: str | None, all_namespaces: bool) -> str | None:
    """The namespace to list (None: every namespace)."""
    if all_namespaces and namespace is not None:
        raise UserError("-n and -A ask for different things", hint="give one namespace with -n, or every one with -A")
    return None if all_namespaces else (namespace or DEFAULT_NAMESPACE)

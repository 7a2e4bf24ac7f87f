"""Options several listings and verbs share: `-n/--namespace` and `-A/--all-namespaces`, as kubectl
has them."""

from __future__ import annotations

from collections.abc import Callable

import click

from kubeplay.errors import UserError
from kubeplay.names import DEFAULT_NAMESPACE


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


def namespace_option(command: Callable) -> Callable:
    """`-n NS` of a verb on named pods: the namespace their names are looked up in."""
    return click.option("-n", "--namespace", default=DEFAULT_NAMESPACE, show_default=True, metavar="NS",
                        help="The namespace the pods are named in.")(command)


def pod_keys(namespace: str, names) -> list[str]:
    """The keys of the pods `names` of `namespace` as the store knows them, in order, once each; an
    unknown name is a NotFoundError naming the namespace searched. Reads no pod."""
    from kubeplay.names import given_pod_key
    from kubeplay.store.plans import pod_not_found_in

    keys = []
    for name in dict.fromkeys(names):
        key = given_pod_key(namespace, name)
        if key is None:
            raise pod_not_found_in(namespace, name)
        keys.append(key)
    return keys

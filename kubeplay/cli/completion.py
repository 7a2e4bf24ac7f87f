"""`kubeplay completion bash|zsh|fish` (click's shell completion, with names read from the store),
the completers that arguments naming pods, deployments, services, images and volumes use, and
`kubeplay version`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VARIABLE = "_KUBEPLAY_COMPLETE"  # what click's completion scripts set when they call kubeplay back


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL: commands, options and the store's pod, deployment,
    service, image and volume names.

    \b
    bash:  kubeplay completion bash > ~/.local/share/bash-completion/completions/kubeplay
    zsh:   kubeplay completion zsh > "${fpath[1]}/_kubeplay"
    fish:  kubeplay completion fish > ~/.config/fish/completions/kubeplay.fish
    or, for this shell only:  source <(kubeplay completion bash)
    """
    from click.shell_completion import get_completion_class

    from kubeplay.cli.lazy import cli

    script_class = get_completion_class(shell)
    assert script_class is not None  # every shell of SHELLS is one of click's
    click.echo(script_class(cli, {}, "kubeplay", COMPLETE_VARIABLE).source())


def _store_root(ctx: click.Context) -> Path:
    """The graph root the command line names (--root or KUBEPLAY_ROOT), else the default one."""
    from kubeplay.config import default_root

    root = ctx.find_root().params.get("root")
    return Path(root) if root else default_root()


def names_of(kind: str) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    """A shell_complete callback: the names of `kind` in the store that start with what was typed."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        from kubeplay.store.names import object_names

        return [CompletionItem(name) for name in object_names(_store_root(ctx), kind, _namespace_given(ctx))
                if name.startswith(incomplete)]

    return complete


# what `get`'s and `describe`'s NAME arguments complete, by the TYPE before them
TYPE_STORE_KIND = {"pods": "pod", "deployments": "deployment", "services": "service"}


def complete_targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`get`/`describe`: a TYPE first (or TYPE/NAME), then names of that TYPE."""
    from click.shell_completion import CompletionItem

    from kubeplay.cli.resources import KINDS
    from kubeplay.errors import UserError
    from kubeplay.store.names import object_names

    typed = [value for value in (ctx.params.get("targets") or ctx.params.get("names") or ())]
    if ctx.params.get("type_name"):
        typed = [ctx.params["type_name"], *typed]
    if "/" in incomplete:
        type_text, _, start = incomplete.partition("/")
        kind_name = _kind_name(type_text)
        store_kind = TYPE_STORE_KIND.get(kind_name or "")
        if store_kind is None:
            return []
        return [CompletionItem(f"{type_text}/{name}") for name in object_names(_store_root(ctx), store_kind, _namespace_given(ctx))
                if name.startswith(start)]
    if not typed:
        words = [kind.name for kind in KINDS.values()] + [alias for kind in KINDS.values() for alias in kind.aliases]
        return [CompletionItem(word) for word in sorted(set(words) | {"all"}) if word.startswith(incomplete)]
    try:
        kind_name = _kind_name(typed[0])
    except UserError:
        return []
    store_kind = TYPE_STORE_KIND.get(kind_name or "")
    if store_kind is None:
        return []
    return [CompletionItem(name) for name in object_names(_store_root(ctx), store_kind, _namespace_given(ctx))
            if name.startswith(incomplete) and name not in typed[1:]]


def complete_pod_reference(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`logs`/`exec`/`port-forward`: a pod's name, or TYPE/NAME (deploy/web, svc/web) once a "/" is typed."""
    from click.shell_completion import CompletionItem

    from kubeplay.store.names import object_names

    if "/" in incomplete:
        return complete_targets(ctx, param, incomplete)
    return [CompletionItem(name) for name in object_names(_store_root(ctx), "pod", _namespace_given(ctx)) if name.startswith(incomplete)]


def complete_deployment(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`scale`/`rollout`: deployment/NAME (deploy/NAME when that is what is being typed)."""
    from click.shell_completion import CompletionItem

    from kubeplay.store.names import object_names

    prefix = "deploy/" if incomplete.startswith("deploy/") else "deployment/"
    return [CompletionItem(prefix + name) for name in object_names(_store_root(ctx), "deployment", _namespace_given(ctx))
            if (prefix + name).startswith(incomplete)]


def complete_container(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """-c: the containers of the pod named before it (by NAME or pod/NAME)."""
    from click.shell_completion import CompletionItem

    from kubeplay.store.names import container_names

    # with the value of -c still to come, click stops parsing and leaves the words before it unparsed
    pod = ctx.params.get("pod") or next((word for word in ctx.args if not word.startswith("-")), "")
    kind, _, name = pod.rpartition("/")
    if not name or kind.lower() not in ("", "pod", "pods", "po"):
        return []
    found = container_names(_store_root(ctx), name, _namespace_given(ctx))
    return [CompletionItem(container) for container in found if container.startswith(incomplete)]


def _namespace_given(ctx: click.Context) -> str | None:
    """The -n typed so far; None when it was not (the pod may then be in any namespace)."""
    from click.core import ParameterSource

    if ctx.get_parameter_source("namespace") in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        return ctx.params.get("namespace")
    return None


def _kind_name(text: str) -> str | None:
    from kubeplay.cli.resources import KINDS

    lowered = text.lower()
    return next((kind.name for kind in KINDS.values() if lowered == kind.name or lowered in kind.aliases), None)


@click.command()
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              help="Lines of text, or JSON.")
@click.pass_obj
def version(settings, output: str) -> None:
    """The versions of kubeplay, of the OCI runtime it uses here and of conmon."""
    from kubeplay import __version__
    from kubeplay.errors import KubeplayError

    found = {"client": __version__, "runtime": "", "runtimePath": "", "conmon": "", "conmonPath": ""}
    try:
        from kubeplay.pods.engine import Engine

        info = Engine(settings).runtime_info
        found["runtime"], found["runtimePath"] = f"{info.name} {info.version}", info.path
    except KubeplayError as exc:
        found["runtime"] = f"none ({exc.message})"
    try:
        from kubeplay.runtime.conmon import find_conmon
        from kubeplay.runtime.probe import runtime_version

        path = find_conmon()
        found["conmon"], found["conmonPath"] = runtime_version(Path(path)), path
    except KubeplayError as exc:
        found["conmon"] = f"none ({exc.message})"
    if output == "json":
        from kubeplay.cli.render import echo_json

        echo_json(found)
        return
    click.echo(f"Client Version:   {found['client']}")
    click.echo(f"Runtime Version:  {found['runtime']}" + (f" ({found['runtimePath']})" if found["runtimePath"] else ""))
    click.echo(f"Conmon Version:   {found['conmon']}" + (f" ({found['conmonPath']})" if found["conmonPath"] else ""))

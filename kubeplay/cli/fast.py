"""The everyday commands answered without click (~40 ms of imports): `pods`, `play FILE...`,
`down FILE...` and `generate NAME...` with no options but the global ones, `-q` and `--format`.
Anything else — another command, another option, `--help`, a rootless user (who must enter the
user namespace first) — returns None and goes through the click command tree, which does the same
work through the same functions (kubeplay.cli.listing, kubeplay.cli.manifests, kubeplay.cli.generating)."""

from __future__ import annotations

import os
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~4 ms) on the fast path
if TYPE_CHECKING:
    from pathlib import Path

GLOBAL_VALUES = {"--root": "root", "--runroot": "runroot", "--runtime": "runtime", "--log-level": "log_level"}
LOG_LEVELS = ("debug", "info", "warning", "error")
QUIET = ("-q", "--quiet")


def parse_globals(argv: list[str]) -> tuple[dict[str, str | bool], list[str]] | None:
    """The global options before the command, and the rest; None for anything unusual."""
    options: dict[str, str | bool] = {}
    index = 0
    while index < len(argv):
        name, equals, value = argv[index].partition("=")
        if name == "--debug" and not equals:
            options["debug"] = True
        elif name in GLOBAL_VALUES:
            if not equals:
                index += 1
                if index >= len(argv):
                    return None
                value = argv[index]
            if not value:
                return None
            options[GLOBAL_VALUES[name]] = value
        else:
            break
        index += 1
    return options, argv[index:]


def _files_and_quiet(args: list[str]) -> tuple[tuple[str, ...], bool] | None:
    files = tuple(arg for arg in args if arg not in QUIET)
    if not files or any(arg.startswith("-") for arg in files):
        return None  # no file (click says so), an option, or stdin: the full command handles it
    return files, len(files) != len(args)


def _format(args: list[str]) -> str | None:
    if not args:
        return "table"
    if args in (["--format", "json"], ["--format=json"]):
        return "json"
    if args in (["--format", "table"], ["--format=table"]):
        return "table"
    return None


def plan(argv: list[str]) -> Callable[[], None] | None:
    """The work of `argv` when it is one of the fast forms, else None."""
    parsed = parse_globals(argv)
    if parsed is None or not parsed[1]:
        return None
    options, (command, *args) = parsed
    if command == "pods" and _nothing_to_list(options, args):
        return lambda: _list_no_pods(_format(args))
    from kubeplay.dataclass_cache import install
    from kubeplay.lean_imports import import_pathlib

    import_pathlib()  # before anything imports it whole
    install()  # before any kubeplay dataclass is defined
    work = _command(command, args)
    settings = _settings(options) if work is not None else None
    if work is None or settings is None:
        return None
    return lambda: work(settings)


def _command(command: str, args: list[str]) -> Callable | None:
    """What a fast form does given the settings; None for every other command line."""
    if command == "pods":
        fmt = _format(args)
        if fmt is None:
            return None
        from kubeplay.cli.listing import list_pods

        return lambda settings: list_pods(settings, fmt)
    if command == "generate":
        if not args or any(arg.startswith("-") for arg in args):
            return None
        from kubeplay.cli.generating import generate_pods

        return lambda settings: generate_pods(settings, tuple(args))
    found = _files_and_quiet(args) if command in ("play", "down") else None
    if found is None:
        return None
    from kubeplay.cli import manifests

    files, quiet = found
    if command == "play":
        return lambda settings: manifests.play_files(settings, files, quiet=quiet)
    return lambda settings: manifests.down_files(settings, files, quiet=quiet)


def _nothing_to_list(options: dict[str, str | bool], args: list[str]) -> bool:
    """`pods` as root on a store without pods: nothing to reconcile, so no settings or store layer."""
    from kubeplay.defaults import DATABASE_NAME, ROOT_GRAPH_ROOT, ROOTLESS_UID_ENV

    if os.geteuid() != 0 or os.environ.get(ROOTLESS_UID_ENV) or _format(args) is None or _log_level(options) is None:
        return False
    from kubeplay.store.peek import holds_no_pods

    root = _given(options, "root") or ROOT_GRAPH_ROOT
    return holds_no_pods(os.path.join(os.path.abspath(root), DATABASE_NAME))


def _list_no_pods(fmt: str | None) -> None:
    from kubeplay.cli.render import show_pod_summaries

    show_pod_summaries([], fmt or "table")


def _given(options: dict[str, str | bool], name: str) -> str:
    """A global option's value: given on the command line, else by KUBEPLAY_<NAME>, else ""."""
    return str(options.get(name) or os.environ.get(f"KUBEPLAY_{name.upper()}") or "")


def _log_level(options: dict[str, str | bool]) -> str | None:
    level = (_given(options, "log_level") or "warning").lower()
    return level if level in LOG_LEVELS else None  # None: click names the valid choices


def _settings(options: dict[str, str | bool]):
    from pathlib import Path

    from kubeplay.config import is_rootless

    if is_rootless():
        return None
    level = _log_level(options)
    if level is None:
        return None
    debug = bool(options.get("debug")) or os.environ.get("KUBEPLAY_DEBUG", "").lower() in ("1", "true", "yes")
    root, runroot = _given(options, "root"), _given(options, "runroot")
    return global_settings(Path(root) if root else None, Path(runroot) if runroot else None,
                           _given(options, "runtime") or None, level, debug)


def global_settings(root: Path | None, runroot: Path | None, runtime: str | None, log_level: str, debug: bool):
    """Settings from the global options (None: the default place), with logging configured; the
    click group and the fast path both resolve them here."""
    from kubeplay.config import Settings, default_root, default_runroot

    configure_logging(log_level, debug)
    return Settings(root=(root or default_root()).absolute(), runroot=(runroot or default_runroot()).absolute(),
                    runtime=runtime, log_level=log_level, debug=debug)


def configure_logging(level: str, debug: bool) -> None:
    from kubeplay.logs import configure

    configure(level, debug)  # the logging module itself is loaded on the first line written

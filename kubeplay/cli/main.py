"""The `kubeplay` entry point: the single error boundary around the command tree.

Start-up cost matters here: `kubeplay --version` is answered before click or any of kubeplay is
imported, and the command tree (kubeplay.cli.lazy) is imported only once a command is to run.
"""

from __future__ import annotations

import sys

# Commands that only read: ended at once by SIGTERM they leave nothing half-made, so they are spared
# loading the signal module (and enum with it) on the way to their first line of output.
READERS = ("pods", "ps", "images", "jobs", "logs", "generate")


def _wants_debug(argv: list[str]) -> bool:
    import os

    return "--debug" in argv or os.environ.get("KUBEPLAY_DEBUG", "").lower() in ("1", "true", "yes")


def _print_version() -> None:
    from kubeplay import __version__

    sys.stdout.write(f"kubeplay version {__version__}\n")
    sys.stdout.flush()


def _say(text: str) -> None:
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:  # the common form; others (`--root X --version`) go through click
        _print_version()
        sys.exit(0)
    from kubeplay.errors import KubeplayError

    debug = _wants_debug(argv)
    try:
        from kubeplay.cli.fast import parse_globals, plan

        parsed = parse_globals(argv)
        if not parsed or not parsed[1] or parsed[1][0] not in READERS:
            from kubeplay.cli.signals import end_like_interrupt

            end_like_interrupt()  # SIGTERM and SIGHUP roll back what a command made, as Ctrl-C does
        work = plan(argv)
        if work is not None:
            work()
            returned = 0
        else:
            from kubeplay.dataclass_cache import install
            from kubeplay.lean_imports import import_pathlib

            import_pathlib()  # before anything imports it whole
            install()  # before any kubeplay dataclass is defined (the fast forms install it themselves)
            from kubeplay.cli.lazy import invoke

            returned = invoke(argv)
    except KubeplayError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _say(f"error: {exc.message}")
        if exc.hint:
            _say(f"hint: {exc.hint}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        from kubeplay.cli.signals import exit_code

        _say("interrupted")
        sys.exit(exit_code(exc))
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # the boundary: nothing else may print a traceback
        _exit_for_click(exc)
        _exit_for_full_disk(exc, debug)
        if debug:
            import traceback

            traceback.print_exc()
        _say(f"error: internal error: {type(exc).__name__}: {exc}")
        _say("hint: re-run with --debug for the traceback, and report it")
        sys.exit(125)
    sys.exit(returned if isinstance(returned, int) else 0)


def run() -> None:
    """main() as the program: the `kubeplay` script and `python -m kubeplay` end here."""
    collect_garbage_less_often()
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if code is not None and not isinstance(code, int):
        _say(str(code))
        code = 1
    exit_now(code or 0)


def collect_garbage_less_often() -> None:
    """A command allocates some 10^5 objects as it imports its modules and defines their classes,
    and at the default threshold (700) the cycle collector ran every few hundred of them, walking
    ever more of what was just loaded: ~5% of `generate`. Cycles are still collected, every 50,000
    allocations instead, which matters only to the long-running commands (logs -f, exec)."""
    import gc

    gc.set_threshold(50_000)


def exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, which frees every module and object one
    by one (~20 ms after a play). What that teardown does that matters is done here first: threads
    still running are waited for, atexit handlers run, the standard streams are flushed."""
    import atexit
    import os

    threading = sys.modules.get("threading")  # not loaded: no thread was started
    if threading is not None:
        threading._shutdown()  # as the interpreter's teardown begins: thread exit hooks, then joins
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said on it
            pass
    os._exit(code)


def _exit_for_full_disk(exc: Exception, debug: bool) -> None:
    """A full disk met where no layer named the path (a log, a bundle, a volume file): still a
    host problem in words, not an internal error."""
    from kubeplay.errors import space_error

    error = space_error(exc, getattr(exc, "filename", None) or "a file kubeplay was writing")
    if error is None:
        return
    if debug:
        import traceback

        traceback.print_exc()
    _say(f"error: {error.message}")
    _say(f"hint: {error.hint}")
    sys.exit(error.exit_code)


def _exit_for_click(exc: Exception) -> None:
    """Usage errors, aborts and exits of the click command tree (loaded only when it ran)."""
    click = sys.modules.get("click")
    if click is None:
        return
    if isinstance(exc, click.exceptions.Abort):
        _say("aborted")
        sys.exit(1)
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else 1)
    if isinstance(exc, click.exceptions.Exit):
        sys.exit(exc.exit_code)


def __getattr__(name: str) -> object:
    """`cli`, the click group, for callers that drive it directly (click's CliRunner)."""
    if name == "cli":
        from kubeplay.cli.lazy import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

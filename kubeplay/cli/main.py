"""The `kubeplay` entry point: the single error boundary around the command tree.

The command tree (kubeplay.cli.lazy) imports each subcommand only when it runs, so a command pays
for the code it uses and no more.
"""

from __future__ import annotations

import os
import sys

import click

from kubeplay.cli.lazy import cli, debug_requested, invoke
from kubeplay.errors import KubeplayError

__all__ = ["cli", "main", "run"]  # cli: the click group, for callers that drive it (click's CliRunner)


def _say(text: str) -> None:
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        from kubeplay.cli.signals import end_like_interrupt

        end_like_interrupt()  # SIGTERM and SIGHUP roll back what a command made, as Ctrl-C does
        returned = invoke(argv)
    except KubeplayError as exc:
        if debug_requested():
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
        _quiet_closed_stdout()
        sys.exit(1)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C and our signals into Abort
            from kubeplay.cli.signals import exit_code

            _say("interrupted")
            sys.exit(exit_code(exc.__cause__))
        _say("aborted")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)  # a usage error is an input error: 1, as README says (click's own code is 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # the boundary: nothing else may print a traceback
        _exit_for_full_disk(exc)
        if debug_requested():
            import traceback

            traceback.print_exc()
        _say(f"error: internal error: {type(exc).__name__}: {exc}")
        _say("hint: re-run with --debug for the traceback, and report it")
        sys.exit(125)
    sys.exit(returned if isinstance(returned, int) else 0)


def _exit_for_full_disk(exc: Exception) -> None:
    """A full disk met where no layer named the path (a log, a bundle, a volume file): still a
    host problem in words, not an internal error."""
    from kubeplay.errors import space_error

    error = space_error(exc, getattr(exc, "filename", None) or "a file kubeplay was writing")
    if error is None:
        return
    if debug_requested():
        import traceback

        traceback.print_exc()
    _say(f"error: {error.message}")
    _say(f"hint: {error.hint}")
    sys.exit(error.exit_code)


def _quiet_closed_stdout() -> None:
    """The reader of stdout went away (`| head`): point stdout at /dev/null, so the interpreter's
    final flush of what is still buffered does not fail a second time at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run() -> None:
    """main() as the program: the `kubeplay` script and `python -m kubeplay` end here."""
    main()


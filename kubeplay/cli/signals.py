"""SIGTERM and SIGHUP end a command the way Ctrl-C does: as a KeyboardInterrupt, so a `play` cut
short rolls back what it made instead of dying half-way (the default action of both signals).

The first of SIGINT, SIGTERM or SIGHUP raises; any later one is only noted, so the roll-back it
started runs to its end (SIGKILL still ends the process). Later ones are caught by a handler that
does nothing rather than ignored: an ignored signal would stay ignored in every runtime and conmon
started meanwhile, and in the containers below them.
"""

from __future__ import annotations

import signal

ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """A KeyboardInterrupt raised for a signal; the command exits 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def end_like_interrupt() -> None:
    """Make the ending signals raise Terminated in the main thread (where Python runs handlers).
    A signal the command was started with ignored (nohup) stays ignored."""
    for number in ENDING_SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, _raise_once)


def _raise_once(signum: int, frame: object) -> None:
    for number in ENDING_SIGNALS:
        if signal.getsignal(number) is _raise_once:
            signal.signal(number, _note_only)
    raise Terminated(signum)


def _note_only(signum: int, frame: object) -> None:
    """A second ending signal while the first one's roll-back runs: it goes on undisturbed."""


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a command ended by it (130 for Ctrl-C)."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)

"""What a pull tells while it runs: messages ("Trying to pull ..."), and for each blob when it
starts, how many of its bytes are in, and when it is done. This base class turns the blob events
into the messages a plain `progress(text)` callable has always been given; the command line
subclasses it to draw bars on a terminal, or to print one line per layer when there is none."""

from __future__ import annotations

from collections.abc import Callable


class PullProgress:
    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self.say = say

    def __call__(self, text: str) -> None:
        if self.say is not None:
            self.say(text)

    def blob_started(self, digest: str, size: int, what: str) -> None:
        """A download of `size` bytes begins (`what` is "config" or "layer")."""

    def blob_advanced(self, digest: str, done: int) -> None:
        """`done` bytes of the blob are in (resumed bytes included); called from download threads."""

    def blob_finished(self, digest: str, what: str, skipped: bool) -> None:
        """The blob is verified in the store, or was there already (`skipped`)."""
        noun = "config" if what == "config" else "blob"
        self(f"Copying {noun} {digest[7:19]} " + ("skipped: already exists" if skipped else "done"))


def as_pull_progress(progress: Callable[[str], None] | PullProgress | None) -> PullProgress:
    """Any progress a caller gave, as a PullProgress (a plain callable gets the messages only)."""
    return progress if isinstance(progress, PullProgress) else PullProgress(progress)

"""How a pull shows its progress: on a terminal, a line per blob redrawn in place (bytes, rate,
ETA) and a summary; elsewhere (a log, a pipe), one line per layer once it is done, and the summary."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from kubeplay.images.transfer import PullProgress

REDRAW_EVERY = 0.1  # seconds: a terminal redrawn faster only flickers
BAR = 20


def size_text(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f}{unit}" if unit == "B" else f"{count:.1f}{unit}"
        count /= 1024
    raise AssertionError


def duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class _Blob:
    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what
        self.done = 0  # bytes in, those of an earlier interrupted pull included
        self.started = time.monotonic()
        self.ended: float | None = None
        self.skipped = False

    def rate(self, now: float) -> float:
        elapsed = (self.ended or now) - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


class _Tracking(PullProgress):
    """Byte counts of every blob, shared by both renderers."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(None)
        self.out = out
        self.blobs: dict[str, _Blob] = {}  # those on screen
        self.earlier: list[_Blob] = []  # those of blocks already left behind, for the summary
        self.lock = threading.Lock()
        self.began = time.monotonic()

    def __call__(self, text: str) -> None:
        """Messages ("Trying to pull ...") are for terminals only; a log gets the per-layer lines."""

    def blob_started(self, digest: str, size: int, what: str) -> None:
        with self.lock:
            self.blobs[digest] = _Blob(size, what)

    def blob_advanced(self, digest: str, done: int) -> None:
        with self.lock:
            self.blobs[digest].done = done
        self.changed()

    def blob_finished(self, digest: str, what: str, skipped: bool) -> None:
        with self.lock:
            blob = self.blobs.setdefault(digest, _Blob(0, what))
            blob.ended = time.monotonic()
            blob.skipped = skipped
            if not skipped:
                blob.done = max(blob.done, blob.size)
        self.ended(digest, blob)

    def changed(self) -> None:
        """Bytes came in."""

    def ended(self, digest: str, blob: _Blob) -> None:
        """A blob is done."""

    def summary(self, reference: str) -> str:
        every = [*self.earlier, *self.blobs.values()]
        fetched = [b for b in every if not b.skipped]
        layers = [b for b in every if b.what == "layer"]
        total = sum(b.done for b in fetched)
        elapsed = time.monotonic() - self.began
        reused = sum(1 for b in layers if b.skipped)
        rate = f" ({size_text(total / elapsed)}/s)" if elapsed > 0 and total else ""
        kept = f", {reused} already here" if reused else ""
        return (f"Pulled {reference}: {len(layers)} layer{'s' if len(layers) != 1 else ''}{kept}, "
                f"{size_text(total)} downloaded in {duration_text(elapsed)}{rate}")

    def finish(self, reference: str) -> None:
        self.out.write(self.summary(reference) + "\n")
        self.out.flush()


class LineProgress(_Tracking):
    """No terminal: one line per layer when it is done."""

    def ended(self, digest: str, blob: _Blob) -> None:
        if blob.what != "layer":
            return
        if blob.skipped:
            line = f"Layer {digest[7:19]}: already here"
        else:
            line = (f"Layer {digest[7:19]}: {size_text(blob.done)} in "
                    f"{duration_text((blob.ended or time.monotonic()) - blob.started)}")
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()


class TerminalProgress(_Tracking):
    """A terminal: the blobs' lines redrawn in place under the messages."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self.drawn = 0  # lines of the block currently on screen
        self.last_draw = 0.0

    def __call__(self, text: str) -> None:
        with self.lock:
            if self.blobs and all(blob.ended is not None for blob in self.blobs.values()):
                # a finished block stays where it is, and what follows is written below it
                self.earlier += self.blobs.values()
                self.blobs = {}
                self.drawn = 0
            self._erase()
            self.out.write(text + "\n")
            self._draw()

    def blob_started(self, digest: str, size: int, what: str) -> None:
        super().blob_started(digest, size, what)
        with self.lock:
            self._redraw()

    def changed(self) -> None:
        now = time.monotonic()
        if now - self.last_draw >= REDRAW_EVERY:
            with self.lock:
                self._redraw()

    def ended(self, digest: str, blob: _Blob) -> None:
        with self.lock:
            self._redraw()

    def finish(self, reference: str) -> None:
        with self.lock:
            self._redraw()
            self.drawn = 0  # the final state stays on screen
        super().finish(reference)

    def _redraw(self) -> None:
        self._erase()
        self._draw()

    def _erase(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")  # to the block's first line, and clear below
            self.drawn = 0

    def _draw(self) -> None:
        now = time.monotonic()
        lines = [self._line(digest, blob, now) for digest, blob in self.blobs.items()]
        for line in lines:
            self.out.write(line + "\n")
        self.drawn = len(lines)
        self.last_draw = now
        self.out.flush()

    @staticmethod
    def _line(digest: str, blob: _Blob, now: float) -> str:
        name = f"{'Config' if blob.what == 'config' else 'Layer'} {digest[7:19]}"
        if blob.skipped:
            return f"{name}  already here"
        if blob.ended is not None:
            return f"{name}  {'=' * BAR}  {size_text(blob.done)}  done in {duration_text(blob.ended - blob.started)}"
        share = blob.done / blob.size if blob.size else 0.0
        filled = min(BAR, int(share * BAR))
        bar = "=" * filled + (">" if filled < BAR else "") + " " * max(0, BAR - filled - 1)
        rate = blob.rate(now)
        eta = f"ETA {duration_text((blob.size - blob.done) / rate)}" if rate > 0 else "ETA --"
        return f"{name}  [{bar}]  {size_text(blob.done)}/{size_text(blob.size)}  {size_text(rate)}/s  {eta}"


def pull_progress(quiet: bool, out: TextIO | None = None) -> _Tracking | None:
    """Bars on a terminal, lines elsewhere, nothing with -q."""
    if quiet:
        return None
    out = out or sys.stderr
    return TerminalProgress(out) if out.isatty() else LineProgress(out)

"""How a pull's progress is shown: bars redrawn on a terminal, a line per layer elsewhere."""

from __future__ import annotations

import io
import re

from kubeplay.cli.pullprogress import LineProgress, TerminalProgress, duration_text, pull_progress, size_text
from kubeplay.images.transfer import PullProgress, as_pull_progress

LAYER = "sha256:" + "ab" * 32
CONFIG = "sha256:" + "cd" * 32


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sizes_and_durations():
    assert (size_text(512), size_text(1536), size_text(5 << 20)) == ("512B", "1.5KiB", "5.0MiB")
    assert (duration_text(4.6), duration_text(75)) == ("5s", "1m15s")


def test_a_terminal_gets_bars_redrawn_in_place_and_a_summary():
    out = Terminal()
    progress = pull_progress(False, out)
    assert isinstance(progress, TerminalProgress)
    progress("Trying to pull example/app...")
    progress.blob_started(LAYER, 4 << 20, "layer")
    progress.blob_advanced(LAYER, 1 << 20)
    progress.blob_finished(CONFIG, "config", skipped=True)
    progress.blob_finished(LAYER, "layer", skipped=False)
    progress.finish("example/app")
    screen = out.getvalue()
    assert screen.startswith("Trying to pull example/app...\n")
    assert re.search(r"Layer abababababab  \[> +\]  0B/4.0MiB  0B/s  ETA --", screen)
    assert "\x1b[1F\x1b[J" in screen
    assert re.search(r"Layer abababababab  =+  4.0MiB  done in \d+s", screen)
    assert "Config cdcdcdcdcdcd  already here" in screen
    assert re.search(r"Pulled example/app: 1 layer, 4.0MiB downloaded in \d+s", screen.splitlines()[-1])


def test_without_a_terminal_one_line_per_layer_then_the_summary():
    out = io.StringIO()
    progress = pull_progress(False, out)
    assert isinstance(progress, LineProgress)
    progress("Trying to pull example/app...")
    progress.blob_started(LAYER, 2048, "layer")
    progress.blob_advanced(LAYER, 2048)
    progress.blob_finished(LAYER, "layer", skipped=False)
    progress.blob_finished(CONFIG, "config", skipped=False)
    progress.finish("example/app")
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"Layer abababababab: 2.0KiB in \ds", lines[0])
    assert lines[1].startswith("Pulled example/app: 1 layer, ")
    assert len(lines) == 2
    assert pull_progress(True, out) is None


def test_a_plain_callable_gets_the_old_messages():
    said: list[str] = []
    events = as_pull_progress(said.append)
    events.blob_finished(LAYER, "layer", skipped=True)
    events.blob_finished(CONFIG, "config", skipped=False)
    assert said == ["Copying blob abababababab skipped: already exists", "Copying config cdcdcdcdcdcd done"]
    assert isinstance(as_pull_progress(None), PullProgress)


def test_a_finished_block_stays_above_what_follows():
    out = Terminal()
    progress = TerminalProgress(out)
    progress.blob_started(LAYER, 10, "layer")
    progress.blob_finished(LAYER, "layer", skipped=False)
    before = out.getvalue()
    progress("Writing manifest to image destination")
    assert out.getvalue()[len(before):] == "Writing manifest to image destination\n"
    progress.finish("example/app")
    assert "1 layer, 10B downloaded" in out.getvalue().splitlines()[-1]

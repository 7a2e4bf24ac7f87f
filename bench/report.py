"""The results as markdown: machine, versions, date, then one table row per operation."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

from bench.context import Row


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _memory_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def machine() -> list[tuple[str, str]]:
    return [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("memory", _memory_total()),
        ("kernel", platform.release()),
    ]


def versions(kubeplay_version: str) -> list[tuple[str, str]]:
    return [
        ("kubeplay", kubeplay_version),
        ("podman", _first_line(["podman", "--version"])),
        ("runc", _first_line(["runc", "--version"])),
        ("conmon", _first_line(["conmon", "--version"])),
    ]


def _figure(row: Row, which: str) -> str:
    sample = getattr(row, which)
    if sample is None:
        return "—"
    return sample.text(row.unit)


def _ratio(row: Row) -> str:
    return f"{row.ratio:.2f}" if row.ratio is not None else "—"


def table(rows: list[Row]) -> str:
    lines = ["| operation | kubeplay | podman | ratio | target | verdict | note |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.operation} | {_figure(row, 'kubeplay')} | {_figure(row, 'podman')} | {_ratio(row)} "
                     f"| {row.target} | {row.verdict} | {row.note} |")
    return "\n".join(lines)


def document(rows: list[Row], kubeplay_version: str, failures: list[str], seconds: float) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# kubeplay against podman",
        "",
        f"Measured by `make bench` on {now} (the whole run took {seconds / 60:.1f} min). Figures are the "
        "median wall-clock time of several repetitions, with (min–max); ratio = kubeplay median / "
        "podman median, lower is better. Both engines run as root on their own private state "
        "directories, play the same YAML with the image already in their store, and use runc.",
        "",
        "| machine | |", "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine()],
        "",
        "| versions | |", "|---|---|",
        *[f"| {key} | {value} |" for key, value in versions(kubeplay_version)],
        "",
        table(rows),
        "",
    ]
    if failures:
        parts += ["## Rows that could not be measured", "", *[f"- {failure}" for failure in failures], ""]
    return "\n".join(parts)

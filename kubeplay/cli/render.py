"""Small rendering helpers shared by commands: tables, ages, JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence

from click import echo


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def age(since: float | None, now: float | None = None) -> str:
    """kubectl's AGE: 45s, 3m, 2h, 5d."""
    if not since:
        return "<unknown>"
    seconds = int((now or time.time()) - since)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def echo_json(data: object) -> None:
    import json  # a table needs none of it

    echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def show_pod_summaries(summaries: list[dict], fmt: str) -> None:
    """`kubeplay pods`: NAME READY STATUS RESTARTS AGE, as kubectl shows them, or the same as JSON."""
    if fmt == "json":
        echo_json(summaries)
        return
    now = time.time()
    table(["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
          [(s["name"], s["ready"], s["status"], s["restarts"], age(s["created"], now)) for s in summaries])

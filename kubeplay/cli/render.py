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


# keys whose values the store keeps as seconds since the epoch; JSON and YAML give them in RFC 3339
TIME_KEYS = frozenset({"created", "created_at", "startedAt", "finishedAt", "startTime", "completionTime"})


def text_times(data: object) -> object:
    """`data` with the store's times under TIME_KEYS as RFC 3339 text in UTC, as Kubernetes writes them."""
    if isinstance(data, dict):
        return {key: rfc3339(value) if key in TIME_KEYS and isinstance(value, (int, float))
                and not isinstance(value, bool) else text_times(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [text_times(item) for item in data]
    return data


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def echo_json(data: object) -> None:
    import json  # a table needs none of it

    echo(json.dumps(text_times(data), indent=2, sort_keys=False, default=str))


def show_pod_summaries(summaries: list[dict], fmt: str, namespace_column: bool = False) -> None:
    """`kubeplay pods`: NAME READY STATUS RESTARTS AGE, as kubectl shows them (NAMESPACE first
    under -A), or the same as JSON."""
    if fmt == "json":
        echo_json(summaries)
        return
    now = time.time()
    first = ["NAMESPACE"] if namespace_column else []
    table(first + ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
          [([s["namespace"]] if namespace_column else []) + [s["name"], s["ready"], s["status"], s["restarts"],
                                                             age(s["created"], now)] for s in summaries])

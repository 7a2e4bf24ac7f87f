"""Durations and times as kubectl takes them: `--since 5m` (Go's duration syntax: 1h30m, 2.5s,
300ms) and `--since-time` (RFC 3339)."""

from __future__ import annotations

import re
import time

from kubeplay.errors import UserError

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds of a duration such as 5m, 1h30m, 2.5s or 300ms."""
    position, total = 0, 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise UserError(f"invalid duration {text!r} at position {position + 1}",
                            hint="write a number and a unit (h, m, s, ms), e.g. 30s, 5m or 1h30m")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not text:
        raise UserError("empty duration", hint="write e.g. 30s, 5m or 1h30m")
    return total


def parse_time(text: str) -> float:
    """Epoch seconds of an RFC 3339 time (2024-05-01T10:00:00Z, with an offset or fractions)."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text.upper():
        raise UserError(f"invalid time {text!r}: not RFC 3339",
                        hint="write a date, a time and a zone: 2024-05-01T10:00:00Z or 2024-05-01T12:00:00+02:00")
    return moment.timestamp()


def since_epoch(since: str | None, since_time: str | None) -> float | None:
    """The time from which --since or --since-time keeps records; None without either."""
    if since is not None and since_time is not None:
        raise UserError("--since and --since-time both given", hint="give one of them")
    if since is not None:
        return time.time() - parse_duration(since)
    if since_time is not None:
        return parse_time(since_time)
    return None

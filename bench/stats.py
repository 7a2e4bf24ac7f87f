"""Repetitions and their summary: min / median / max of wall-clock seconds."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    values: tuple[float, ...]

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def text(self, unit: str = "s") -> str:
        if unit == "ms":
            return f"{self.median * 1000:.0f} ms ({self.min * 1000:.0f}–{self.max * 1000:.0f})"
        if unit == "MiB":
            return f"{self.median:.2f} MiB ({self.min:.2f}–{self.max:.2f})"
        return f"{self.median:.2f} s ({self.min:.2f}–{self.max:.2f})"


def repeat(measure: Callable[[int], float], times: int, warmup: int = 0) -> Sample:
    """Call `measure(i)` warmup + times times; keep the last `times` figures it returns."""
    for index in range(warmup):
        measure(-1 - index)
    return Sample(tuple(measure(index) for index in range(times)))

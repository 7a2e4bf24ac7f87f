"""Events: what happened to a pod, as the kubelet reports it (probe failures, kills, hooks, starts)."""

from __future__ import annotations

from dataclasses import dataclass

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class EventRecord:
    """One event of a pod; the same event repeated is one record with a count, as in Kubernetes."""

    pod: str
    container: str  # "" for the pod itself
    type: str  # Normal or Warning
    reason: str
    message: str
    count: int
    first_at: float
    last_at: float

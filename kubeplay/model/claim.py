"""A PersistentVolumeClaim as translated from a manifest, beside the pods that mount it.

Apart from the pod plans: reading or validating a stored pod's plan never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClaimPlan:
    """A PersistentVolumeClaim: a named volume kubeplay creates if missing."""

    name: str
    size: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    namespace: str = "default"
    raw: dict | None = None

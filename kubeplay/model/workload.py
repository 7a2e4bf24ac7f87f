"""Deployments as kubeplay keeps them: what a Deployment manifest asks for (DeploymentPlan), what
the store holds of it (DeploymentRecord: the plan plus its revision), and the rolling-update
arithmetic of Kubernetes (maxSurge rounds up, maxUnavailable rounds down).

The template is kept as the PodPlan of one replica: new replicas are that plan under a new name, so
a Deployment scaled from 0 or rolled back needs no manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kubeplay.errors import UserError
from kubeplay.model.plan import PodPlan, SourcePlan

DEFAULT_PROGRESS_DEADLINE = 600  # seconds, as Kubernetes
DEFAULT_HISTORY_LIMIT = 10
DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"


@dataclass(frozen=True)
class DeploymentPlan:
    """A Deployment as translated: its template (one replica's plan), how many, and how it rolls."""

    name: str
    namespace: str
    replicas: int
    template: PodPlan  # the plan of one replica; its name and uid are replaced for each pod
    template_hash: str
    selector: dict = field(default_factory=dict)  # spec.selector as written (immutable)
    strategy: str = "RollingUpdate"  # or "Recreate"
    max_surge: int | str = DEFAULT_SURGE
    max_unavailable: int | str = DEFAULT_UNAVAILABLE
    progress_deadline_seconds: int = DEFAULT_PROGRESS_DEADLINE
    revision_history_limit: int = DEFAULT_HISTORY_LIMIT
    source: SourcePlan = field(default_factory=SourcePlan)
    # `file:line` of fields whose change apply refuses or reports, so those errors point into the manifest
    lines: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def where(self, path: str) -> str:
        return f"{self.lines.get(path) or self.source.file}: {path}"


@dataclass(frozen=True)
class Revision:
    """One template a Deployment ran, kept for `rollout history` and `rollout undo`."""

    number: int
    template_hash: str
    template: PodPlan
    cause: str = ""  # what made it: "apply", "rollout undo", "rollout restart"
    created_at: float = 0.0


@dataclass(frozen=True)
class DeploymentRecord:
    """A stored Deployment: the plan applied last, its revision, and how its last roll ended."""

    plan: DeploymentPlan
    revision: int
    created_at: float
    # "" while rolling or done; otherwise why the last roll stopped (ProgressDeadlineExceeded: ...)
    condition: str = ""

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def namespace(self) -> str:
        return self.plan.namespace


def scaled_value(value: int | str, replicas: int, round_up: bool) -> int:
    """An int, or a percentage of `replicas` rounded as Kubernetes rounds it (GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    exact = percent * replicas / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def surge_and_unavailable(plan: DeploymentPlan) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts for this many replicas. Both resolving to 0 (a
    small percentage of few replicas) allows one unavailable, as Kubernetes' ResolveFenceposts does."""
    surge = scaled_value(plan.max_surge, plan.replicas, round_up=True)
    unavailable = scaled_value(plan.max_unavailable, plan.replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def check_rolling_values(surge: int | str, unavailable: int | str) -> str:
    """Why maxSurge/maxUnavailable as written are refused ("" when they are fine): Kubernetes'
    validation (each an int >= 0 or a percentage, maxUnavailable at most 100%, not both 0)."""
    for name, value in (("maxSurge", surge), ("maxUnavailable", unavailable)):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return f"{name}: must be a whole number or a percentage such as 25%"
        if isinstance(value, str):
            digits = value[:-1]
            if not value.endswith("%") or not digits.isdigit():
                return f'{name}: "{value}" must be a whole number or a percentage such as 25%'
        elif value < 0:
            return f"{name}: {value} must be 0 or more"
    if isinstance(unavailable, str) and int(unavailable[:-1]) > 100:
        return f'maxUnavailable: "{unavailable}" must not be more than 100%'
    if _is_zero(surge) and _is_zero(unavailable):
        return "maxUnavailable: may not be 0 when maxSurge is 0"
    return ""


def _is_zero(value: int | str) -> bool:
    return value == 0 or (isinstance(value, str) and value.rstrip("%").isdigit() and int(value.rstrip("%")) == 0)


def require_rolling_values(plan: DeploymentPlan) -> None:
    problem = check_rolling_values(plan.max_surge, plan.max_unavailable)
    if problem:
        raise UserError(f"{plan.where('spec.strategy.rollingUpdate')}: {problem}",
                        hint="for example maxSurge: 1 and maxUnavailable: 0")

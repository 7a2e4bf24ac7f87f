"""Records: what runs. Status enums carry their legal transitions, checked before every verb."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kubeplay.model.plan import ContainerPlan, PodPlan


class ContainerStatus(str, enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"  # ran and ended, by itself or stopped
    PAUSED = "paused"

    @property
    def can_start(self) -> bool:
        return self in (ContainerStatus.CREATED, ContainerStatus.EXITED)

    @property
    def can_kill(self) -> bool:
        return self in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)

    @property
    def can_delete(self) -> bool:
        return self in (ContainerStatus.CREATED, ContainerStatus.EXITED)


class ContainerRole(str, enum.Enum):
    INFRA = "infra"
    INIT = "init"
    MEMBER = "member"


class PodPhase(str, enum.Enum):
    """Kubernetes pod phases, plus Stopped for a pod stopped by the user."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class ContainerRecord:
    id: str
    pod: str
    name: str
    role: ContainerRole
    plan: ContainerPlan | None  # None for the infra container
    status: ContainerStatus
    pid: int | None = None
    exit_code: int | None = None
    restart_count: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    ready: bool = False
    reason: str = ""


@dataclass(frozen=True)
class PodRecord:
    name: str
    id: str
    plan: PodPlan
    phase: PodPhase
    created_at: float
    containers: tuple[ContainerRecord, ...] = ()
    ip: str = ""
    reason: str = ""

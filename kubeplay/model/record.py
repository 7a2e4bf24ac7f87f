"""Records: what runs. Status enums carry their legal transitions, checked before every verb.

The plan classes are named here for type checkers only: listing pods must not pay for creating
kubeplay.model.plan's dataclasses (PodOverview carries no decoded plan).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    """A container of a pod as the store holds it: its plan and its state."""

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
    ready: bool = False  # what the probe monitor found; see readiness_gated
    reason: str = ""
    boot_id: str = ""  # the run root's session when pid was recorded: another one means pid is stale
    # readiness waits for a readiness or startup probe or a postStart hook: without one, a running
    # container is ready (as in Kubernetes) and `ready` is not consulted
    readiness_gated: bool = False
    ready_changed_at: float | None = None
    # the previous run, once the container ran again (lastState); last_finished_at None: none kept
    last_exit_code: int | None = None
    last_reason: str = ""
    last_started_at: float | None = None
    last_finished_at: float | None = None


@dataclass(frozen=True)
class PodRecord:
    """A pod as the store holds it: its plan, its state and its containers. `name` is the pod's
    key (kubeplay.names.pod_key): its name in namespace default, NAMESPACE_NAME elsewhere; what a
    user calls it is `plan.name` (`shown_name`)."""

    name: str
    id: str
    plan: PodPlan
    phase: PodPhase
    created_at: float
    containers: tuple[ContainerRecord, ...] = ()
    ip: str = ""
    reason: str = ""

    @property
    def namespace(self) -> str:
        return self.plan.namespace

    @property
    def shown_name(self) -> str:
        """The pod's name in its namespace, as it was played and as listings show it."""
        return self.plan.name

    @property
    def restart_policy(self) -> str:
        return self.plan.restart_policy

    @property
    def planned_members(self) -> int:
        return len(self.plan.containers)


@dataclass(frozen=True)
class PodOverview:
    """What listings need of a pod, read without decoding its plan: the status of the pod and of its
    containers. The containers' `plan` is None here (infra or not); read a PodRecord for plans.
    `name` is the pod's own name, as listings show it; `key` what the store knows it by (a
    PodRecord's `name`)."""

    name: str
    key: str
    id: str
    namespace: str
    restart_policy: str
    phase: PodPhase
    created_at: float
    containers: tuple[ContainerRecord, ...] = ()
    ip: str = ""
    reason: str = ""
    planned_members: int = 0  # containers the plan has (not init): some may not be made yet
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def shown_name(self) -> str:
        """The pod's name in its namespace (as PodRecord.shown_name)."""
        return self.name

"""Pods and containers in the state database: plans as config, status as state.

Reads are batched: one query for the pods and one for all their containers, never one per pod.
Plans are decoded (and validated, by pydantic) only for PodRecords; the listing (PodOverview) reads
status columns and two keys of the stored JSON, so `kubeplay pods` neither loads pydantic nor
decodes a plan.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from kubeplay.errors import ConflictError
from kubeplay.model.record import (
    ContainerRecord,
    ContainerRole,
    ContainerStatus,
    PodOverview,
    PodPhase,
    PodRecord,
)
from kubeplay.names import DEFAULT_NAMESPACE, given_pod_key, split_pod_key
from kubeplay.store.db import Database
from kubeplay.store.plans import decode_plan, pod_not_found, pod_not_found_in

if TYPE_CHECKING:
    from kubeplay.model.plan import ContainerPlan, PodPlan

_STATE_COLUMNS = ("status", "pid", "exit_code", "restart_count", "started_at", "finished_at", "ready", "reason", "boot_id",
                  "backoff_step", "restart_at", "ready_changed_at")


class PodStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- pods ---------------------------------------------------------------------------------

    def add_pod(self, pod_id: str, plan: PodPlan) -> None:
        from kubeplay.model.serial import plain_json

        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM pods WHERE name=?", (plan.key,)).fetchone():
                where = "" if plan.namespace == DEFAULT_NAMESPACE else f" -n {plan.namespace}"
                raise ConflictError(
                    f'pod "{plan.name}" already exists in namespace {plan.namespace}',
                    hint=f"remove it first with `kubeplay down FILE` or `kubeplay pod rm -f{where} {plan.name}`",
                )
            conn.execute(
                "INSERT INTO pods (name, id, plan, created_at, namespace) VALUES (?, ?, ?, ?, ?)",
                (plan.key, pod_id, plain_json(plan), time.time(), plan.namespace or DEFAULT_NAMESPACE),
            )
            conn.execute("INSERT INTO pod_state (pod_name, phase) VALUES (?, ?)", (plan.key, PodPhase.PENDING.value))

    def replace_plan(self, name: str, plan: PodPlan) -> None:
        """Store a pod's changed plan (a container added by `run --pod`); the key `name` stays."""
        from kubeplay.model.serial import plain_json

        with self.db.transaction() as conn:
            conn.execute("UPDATE pods SET plan=? WHERE name=?", (plain_json(plan), name))

    def set_pod_state(self, name: str, **fields: object) -> None:
        if "phase" in fields and isinstance(fields["phase"], PodPhase):
            fields["phase"] = fields["phase"].value
        columns = ", ".join(f"{key}=?" for key in fields)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE pod_state SET {columns} WHERE pod_name=?", (*fields.values(), name))

    def stop_if_unchanged(self, name: str, pod_id: str, phase: PodPhase, reason: str) -> bool:
        """Mark the pod Stopped with `reason` if it is still the pod `pod_id` in `phase` (a pod
        played again under the name meanwhile is left alone); True if it was marked."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE pod_state SET phase=?, reason=? WHERE pod_name=? AND phase=? "
                "AND pod_name IN (SELECT name FROM pods WHERE id=?)",
                (PodPhase.STOPPED.value, reason, name, phase.value, pod_id))
            return cursor.rowcount > 0

    def remove_pod(self, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM pods WHERE name=?", (name,))

    def pod_names(self) -> list[str]:
        """Every pod's key, oldest first."""
        return [row["name"] for row in self.db.query("SELECT name FROM pods ORDER BY created_at, name")]

    def names_in(self, namespace: str) -> set[str]:
        """The names of the pods of `namespace` (taken, for a new pod's generated name)."""
        rows = self.db.query("SELECT name FROM pods WHERE namespace=?", (namespace or DEFAULT_NAMESPACE,))
        return {split_pod_key(row["name"])[1] for row in rows}

    def named_key(self, namespace: str, name: str) -> str:
        """The key of the pod `name` of `namespace`, as a user names it, without reading the pod."""
        key = given_pod_key(namespace, name)
        if key is None or self.pod_phase(key) is None:
            raise pod_not_found_in(namespace, name)
        return key

    def pod_phase(self, name: str) -> PodPhase | None:
        """The pod's phase alone (no plan decoded); None for a pod the store does not hold."""
        rows = self.db.query("SELECT phase FROM pod_state WHERE pod_name=?", (name,))
        return PodPhase(rows[0]["phase"]) if rows else None

    def get_pod(self, name: str) -> PodRecord:
        """The pod whose key (PodPlan.key, PodRecord.name) is `name`."""
        record = self.find_pod(name)
        if record is None:
            raise pod_not_found(name)
        return record

    def named_pod(self, namespace: str, name: str) -> PodRecord:
        """The pod `name` of `namespace`, as a user names it (kubeplay.names.given_pod_key)."""
        key = given_pod_key(namespace, name)
        record = self.find_pod(key) if key is not None else None
        if record is None:
            raise pod_not_found_in(namespace, name)
        return record

    def find_pod(self, name: str) -> PodRecord | None:
        records = self._pod_records(name)
        return records[0] if records else None

    def list_pods(self) -> list[PodRecord]:
        return self._pod_records()

    def pod_overviews(self) -> list[PodOverview]:
        """Every pod's status and its containers', oldest first, without decoding any plan."""
        rows = self._pod_rows()
        containers = self._containers_by_pod(decode_plans=False)
        overviews = []
        for row in rows:
            plan = _plan_keys(row)  # two keys of the stored JSON; no dataclass is built
            overviews.append(PodOverview(
                name=plan.get("name", row["name"]), key=row["name"], id=row["id"], namespace=row["namespace"],
                restart_policy=plan.get("restart_policy", "Always"), phase=PodPhase(row["phase"]),
                created_at=row["created_at"], containers=tuple(containers.get(row["name"], ())),
                ip=row["ip"], reason=row["reason"], planned_members=len(plan.get("containers", ())),
                labels=plan.get("labels") or {},
            ))
        return overviews

    def pod_addresses(self) -> list[tuple[str, str, str, str, bool]]:
        """(name, namespace, ip, plan's network, plan's hostNetwork) of every pod, oldest first,
        without decoding any plan: what /etc/hosts of the pods needs. The name is the pod's own
        (pod_key of the namespace and it is the key)."""
        found = []
        for row in self._pod_rows():
            plan = _plan_keys(row)
            found.append((plan.get("name", row["name"]), row["namespace"], row["ip"] or "",
                          plan.get("network", ""), bool(plan.get("host_network", False))))
        return found

    def _pod_rows(self, name: str | None = None) -> list:
        """One pod's row, or every pod's, oldest first."""
        return self.db.query(
            "SELECT p.name, p.namespace, p.id, p.plan, p.created_at, s.phase, s.ip, s.reason "
            "FROM pods p JOIN pod_state s ON s.pod_name = p.name "
            + ("WHERE p.name=? " if name is not None else "") + "ORDER BY p.created_at, p.name",
            (name,) if name is not None else (),
        )

    def _pod_records(self, name: str | None = None) -> list[PodRecord]:
        from kubeplay.model.plan import PodPlan

        rows = self._pod_rows(name)
        if not rows:
            return []
        container_rows = self._container_rows(name)
        records = []
        for row in rows:
            plan = decode_plan(PodPlan, row["plan"], row["name"])
            records.append(PodRecord(
                name=row["name"],
                id=row["id"],
                plan=plan,
                phase=PodPhase(row["phase"]),
                created_at=row["created_at"],
                containers=tuple(_container_record(c, plan=_plan_of_container(plan, c))
                                 for c in container_rows.get(row["name"], ())),
                ip=row["ip"],
                reason=row["reason"],
            ))
        return records

    # --- containers ---------------------------------------------------------------------------

    def add_container(
        self,
        container_id: str,
        pod_name: str,
        name: str,
        role: ContainerRole,
        position: int,
        image_id: str | None,
        plan: ContainerPlan | None,
    ) -> None:
        from kubeplay.model.serial import plain_json

        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO containers (id, pod_name, name, role, position, image_id, plan, readiness_gated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (container_id, pod_name, name, role.value, position, image_id,
                 plain_json(plan) if plan else None, int(readiness_gated(plan))),
            )
            conn.execute(
                "INSERT INTO container_state (container_id, status) VALUES (?, ?)",
                (container_id, ContainerStatus.CREATED.value),
            )

    def set_container_state(self, container_id: str, **fields: object) -> None:
        unknown = set(fields) - set(_STATE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown container state columns {unknown}")
        if isinstance(fields.get("status"), ContainerStatus):
            fields["status"] = fields["status"].value  # type: ignore[union-attr]
        columns = ", ".join(f"{key}=?" for key in fields)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE container_state SET {columns} WHERE container_id=?", (*fields.values(), container_id))

    def record_started(self, container_id: str, pid: int, at: float, boot_id: str) -> None:
        """A container started: its run that ended becomes its last state (what it exited with, why
        and when, as Kubernetes' lastState), the new run is Running (not ready until its probes say
        so), and a member or sidecar gets a Started event; one transaction, as every container of a
        play records its start."""
        from kubeplay.store.events import insert_event

        with self.db.transaction() as conn:
            conn.execute("UPDATE container_state SET last_exit_code=exit_code, last_reason=reason, "
                         "last_started_at=started_at, last_finished_at=finished_at "
                         "WHERE container_id=? AND finished_at IS NOT NULL", (container_id,))
            conn.execute("UPDATE container_state SET status=?, pid=?, started_at=?, exit_code=NULL, finished_at=NULL, "
                         "boot_id=?, reason='', ready=0, ready_changed_at=? WHERE container_id=?",
                         (ContainerStatus.RUNNING.value, pid, at, boot_id, at, container_id))
            row = conn.execute("SELECT pod_name, name FROM containers WHERE id=? AND role != 'infra'",
                               (container_id,)).fetchone()
            if row is not None:
                insert_event(conn, row["pod_name"], row["name"], "Normal", "Started", f"Started container {row['name']}", at)

    def remove_container(self, container_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM containers WHERE id=?", (container_id,))

    def containers(self, pod_name: str) -> list[ContainerRecord]:
        return self._containers_by_pod(pod_name).get(pod_name, [])

    def _containers_by_pod(self, pod_name: str | None = None, decode_plans: bool = True) -> dict[str, list[ContainerRecord]]:
        """Containers of one pod, or of every pod in one query: infra, then init, then members."""
        return {pod: [_container_record(row, decode_plans) for row in rows]
                for pod, rows in self._container_rows(pod_name).items()}

    def _container_rows(self, pod_name: str | None = None) -> dict[str, list]:
        """The rows of _containers_by_pod, by pod, in its order."""
        rows = self.db.query(
            "SELECT c.*, s.* FROM containers c JOIN container_state s ON s.container_id = c.id "
            + ("WHERE c.pod_name=? " if pod_name is not None else "")
            + "ORDER BY c.pod_name, CASE c.role WHEN 'infra' THEN 0 WHEN 'init' THEN 1 ELSE 2 END, c.position",
            (pod_name,) if pod_name is not None else (),
        )
        by_pod: dict[str, list] = {}
        for row in rows:
            by_pod.setdefault(row["pod_name"], []).append(row)
        return by_pod

    def get_container(self, container_id: str, with_plan: bool = True) -> ContainerRecord | None:
        """The container's record; without its plan (`plan` None) when `with_plan` is false."""
        rows = self.db.query(
            "SELECT c.*, s.* FROM containers c JOIN container_state s ON s.container_id = c.id WHERE c.id=?",
            (container_id,),
        )
        return _container_record(rows[0], with_plan) if rows else None

    def backoff_step(self, container_id: str) -> int:
        rows = self.db.query("SELECT backoff_step FROM container_state WHERE container_id=?", (container_id,))
        return rows[0]["backoff_step"] if rows else 0

    def restart_at(self, container_id: str) -> float | None:
        rows = self.db.query("SELECT restart_at FROM container_state WHERE container_id=?", (container_id,))
        return rows[0]["restart_at"] if rows else None

    def image_id(self, container_id: str) -> str | None:
        rows = self.db.query("SELECT image_id FROM containers WHERE id=?", (container_id,))
        return rows[0]["image_id"] if rows else None

    def boot_id(self, container_id: str) -> str:
        rows = self.db.query("SELECT boot_id FROM container_state WHERE container_id=?", (container_id,))
        return rows[0]["boot_id"] if rows else ""


def _plan_keys(row) -> dict:
    """The stored plan's JSON object as it is, for a few of its keys; {} when it is no JSON object
    (a damaged row is still listed; reading its pod in full names the problem)."""
    try:
        plan = json.loads(row["plan"])
    except ValueError:
        return {}
    return plan if isinstance(plan, dict) else {}


def _plan_of_container(pod: PodPlan, row) -> ContainerPlan | None:
    """A container's plan as its validated pod plan holds it, when the row stores that very plan
    (both are written from one ContainerPlan): reading a pod then validates one plan, not one more
    per container through a second model. None when the row holds anything else (a damaged row, or
    one an older kubeplay wrote): the row's own plan is decoded, and a damaged one named."""
    if row["role"] == ContainerRole.INFRA.value or not row["plan"]:
        return None
    from kubeplay.model.serial import plain_json

    among = pod.init_containers if row["role"] == ContainerRole.INIT.value else pod.containers
    plan = next((plan for plan in among if plan.name == row["name"]), None)
    return plan if plan is not None and plain_json(plan) == row["plan"] else None


def _container_record(row, with_plan: bool = True, plan: ContainerPlan | None = None) -> ContainerRecord:
    if plan is None and with_plan and row["plan"]:
        from kubeplay.model.plan import ContainerPlan

        plan = decode_plan(ContainerPlan, row["plan"], row["pod_name"])
    return ContainerRecord(
        id=row["id"],
        pod=row["pod_name"],
        name=row["name"],
        role=ContainerRole(row["role"]),
        plan=plan,
        status=ContainerStatus(row["status"]),
        pid=row["pid"],
        exit_code=row["exit_code"],
        restart_count=row["restart_count"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        ready=bool(row["ready"]),
        reason=row["reason"],
        boot_id=row["boot_id"],
        readiness_gated=bool(row["readiness_gated"]),
        ready_changed_at=row["ready_changed_at"],
        last_exit_code=row["last_exit_code"],
        last_reason=row["last_reason"],
        last_started_at=row["last_started_at"],
        last_finished_at=row["last_finished_at"],
    )


def readiness_gated(plan: ContainerPlan | None) -> bool:
    """Whether the container is ready only once the probe monitor says so: it has a readiness or
    startup probe that kubeplay runs (not grpc), or a postStart hook."""
    if plan is None:
        return False
    probes = [probe for probe in (plan.readiness_probe, plan.startup_probe) if probe is not None]
    return any(probe.action.kind != "grpc" for probe in probes) or plan.post_start is not None

"""Deployments and applied objects in the state database: the only reader and writer of
`deployments`, `deployment_revisions` and `applied_objects`.

A Deployment's plan is config replaced as a whole by each apply; its revision and condition are the
state a roll moves. Revisions keep the template of one replica each, up to revisionHistoryLimit old
ones besides the current.
"""

from __future__ import annotations

import time

from kubeplay.model.workload import DeploymentPlan, DeploymentRecord, Revision
from kubeplay.store.db import Database


class DeploymentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, namespace: str, name: str) -> DeploymentRecord | None:
        rows = self.db.query("SELECT * FROM deployments WHERE namespace=? AND name=?", (namespace, name))
        return _record(rows[0]) if rows else None

    def list(self) -> list[DeploymentRecord]:
        return [_record(row) for row in self.db.query("SELECT * FROM deployments ORDER BY namespace, name")]

    def any(self) -> bool:
        return bool(self.db.query("SELECT 1 FROM deployments LIMIT 1"))

    def save(self, plan: DeploymentPlan, cause: str = "apply") -> DeploymentRecord:
        """Store the plan; a template not seen as the current revision becomes a new revision
        (an old revision of the same template is moved up, as Kubernetes does on undo)."""
        from kubeplay.model.serial import to_json

        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT revision, created_at FROM deployments WHERE namespace=? AND name=?",
                               plan.key).fetchone()
            current = conn.execute(
                "SELECT template_hash FROM deployment_revisions WHERE namespace=? AND name=? AND revision=?",
                (*plan.key, row["revision"])).fetchone() if row else None
            revision = row["revision"] if row else 1
            if row is None:
                conn.execute("INSERT INTO deployments (namespace, name, plan, revision, created_at) "
                             "VALUES (?, ?, ?, 1, ?)", (*plan.key, to_json(plan), now))
            else:
                conn.execute("UPDATE deployments SET plan=?, condition='' WHERE namespace=? AND name=?",
                             (to_json(plan), *plan.key))
            if current is None or current["template_hash"] != plan.template_hash:
                if row is not None:
                    top = conn.execute("SELECT MAX(revision) FROM deployment_revisions WHERE namespace=? AND name=?",
                                       plan.key).fetchone()[0] or 0
                    revision = top + 1
                conn.execute("DELETE FROM deployment_revisions WHERE namespace=? AND name=? AND template_hash=?",
                             (*plan.key, plan.template_hash))
                conn.execute("INSERT INTO deployment_revisions (namespace, name, revision, template_hash, template, "
                             "cause, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (*plan.key, revision, plan.template_hash, to_json(plan.template), cause, now))
                conn.execute("UPDATE deployments SET revision=? WHERE namespace=? AND name=?", (revision, *plan.key))
                _trim(conn, plan, revision)
            else:
                # the same template with other data (files updated in place): the revision keeps the latest
                conn.execute("UPDATE deployment_revisions SET template=? WHERE namespace=? AND name=? AND revision=?",
                             (to_json(plan.template), *plan.key, revision))
            created = row["created_at"] if row else now
        return DeploymentRecord(plan=plan, revision=revision, created_at=created)

    def set_condition(self, namespace: str, name: str, condition: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE deployments SET condition=? WHERE namespace=? AND name=?",
                         (condition, namespace, name))

    def remove(self, namespace: str, name: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM deployments WHERE namespace=? AND name=?", (namespace, name)).rowcount > 0

    def revisions(self, namespace: str, name: str) -> list[Revision]:
        from kubeplay.model.plan import PodPlan
        from kubeplay.model.serial import from_json

        rows = self.db.query("SELECT * FROM deployment_revisions WHERE namespace=? AND name=? ORDER BY revision",
                             (namespace, name))
        return [Revision(number=row["revision"], template_hash=row["template_hash"],
                         template=from_json(PodPlan, row["template"]), cause=row["cause"],
                         created_at=row["created_at"]) for row in rows]

    # --- objects apply was given -----------------------------------------------------------------

    def applied(self) -> dict[tuple[str, str, str], tuple[str, str]]:
        """(kind, namespace, name) -> (file, digest) of every object apply recorded."""
        return {(row["kind"], row["namespace"], row["name"]): (row["file"], row["digest"])
                for row in self.db.query("SELECT * FROM applied_objects")}

    def record_applied(self, kind: str, namespace: str, name: str, file: str, digest: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO applied_objects (kind, namespace, name, file, digest) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (kind, namespace, name) DO UPDATE SET file=excluded.file, digest=excluded.digest",
                         (kind, namespace, name, file, digest))

    def forget_applied(self, kind: str, namespace: str, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM applied_objects WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name))


def _trim(conn, plan: DeploymentPlan, revision: int) -> None:
    """Keep revisionHistoryLimit old revisions besides the current one."""
    conn.execute("DELETE FROM deployment_revisions WHERE namespace=? AND name=? AND revision NOT IN "
                 "(SELECT revision FROM deployment_revisions WHERE namespace=? AND name=? "
                 "ORDER BY revision DESC LIMIT ?)", (*plan.key, *plan.key, plan.revision_history_limit + 1))


def _record(row) -> DeploymentRecord:
    from kubeplay.model.serial import from_json

    return DeploymentRecord(plan=from_json(DeploymentPlan, row["plan"]), revision=row["revision"],
                            created_at=row["created_at"], condition=row["condition"])

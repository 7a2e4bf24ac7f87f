"""Named volumes (from PersistentVolumeClaims) in the state database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from kubeplay.store.db import Database


@dataclass(frozen=True)
class VolumeRecord:
    """A named volume in the store."""

    name: str
    path: str
    created_at: float
    labels: dict[str, str]
    spec: dict = field(default_factory=dict)  # the claim's spec as played: size, access modes, class


class VolumeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self, name: str, path: str, labels: dict[str, str] | None = None, spec: dict | None = None) -> bool:
        """Record a volume unless it exists; True when it was created now."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM volumes WHERE name=?", (name,)).fetchone():
                return False
            conn.execute("INSERT INTO volumes (name, path, created_at, labels, spec) VALUES (?, ?, ?, ?, ?)",
                         (name, path, time.time(), json.dumps(labels or {}), json.dumps(spec or {})))
            return True

    def get(self, name: str) -> VolumeRecord | None:
        rows = self.db.query("SELECT * FROM volumes WHERE name=?", (name,))
        return _record(rows[0]) if rows else None

    def list(self) -> list[VolumeRecord]:
        return [_record(row) for row in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def remove(self, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM volumes WHERE name=?", (name,))

    def users(self, name: str) -> list[str]:
        """Pods whose plan mounts this claim."""
        return _users(self.db.query("SELECT name, plan FROM pods"), name)

    def remove_unused(self, name: str) -> tuple[bool, list[str]]:
        """Forget the volume unless a pod mounts it: (whether it was there, the pods that use it).
        The check and the delete are one transaction, so a pod recorded meanwhile either counts as
        a user or is recorded after the volume is gone (and makes it again)."""
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM volumes WHERE name=?", (name,)).fetchone():
                return False, []
            users = _users(conn.execute("SELECT name, plan FROM pods").fetchall(), name)
            if not users:
                conn.execute("DELETE FROM volumes WHERE name=?", (name,))
            return True, users


def _users(rows, name: str) -> list[str]:
    return [row["name"] for row in rows
            if any(v.get("claim_name") == name for v in json.loads(row["plan"]).get("volumes", []))]


def _record(row) -> VolumeRecord:
    return VolumeRecord(row["name"], row["path"], row["created_at"], json.loads(row["labels"]),
                        json.loads(row["spec"] or "{}"))

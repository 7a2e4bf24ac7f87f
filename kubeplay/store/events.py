"""Events of pods in the state database. An event equal to one the pod has (same container, type,
reason and message) counts that one up instead of adding a row, as Kubernetes aggregates them, and
each pod keeps its newest KEEP_PER_POD rows: a probe failing every second for a day is one row."""

from __future__ import annotations

import time

from kubeplay.model.events import EventRecord
from kubeplay.store.db import Database

KEEP_PER_POD = 200
MESSAGE_LIMIT = 1024  # an exec probe's output can be long; its start says what failed


class EventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, pod: str, container: str, type: str, reason: str, message: str, at: float | None = None) -> None:
        """Record an event; nothing happens when the pod is gone (its events went with it)."""
        self.add_all(pod, [(container, type, reason, message)], at)

    def add_all(self, pod: str, events: list[tuple[str, str, str, str]], at: float | None = None) -> None:
        """Record (container, type, reason, message) events of one pod in one transaction."""
        at = time.time() if at is None else at
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM pods WHERE name=?", (pod,)).fetchone() is None:
                return
            for container, type, reason, message in events:
                insert_event(conn, pod, container, type, reason, message, at)

    def add_for_container(self, container_id: str, type: str, reason: str, message: str,
                          at: float | None = None) -> None:
        """An event of a member or sidecar known by id (the infra has none); "{container}" in
        `message` is replaced by its name."""
        rows = self.db.query("SELECT pod_name, name FROM containers WHERE id=? AND role != 'infra'", (container_id,))
        if rows:
            name = rows[0]["name"]
            self.add(rows[0]["pod_name"], name, type, reason, message.replace("{container}", name), at)

    def list(self, pod: str | None = None, limit: int | None = None) -> list[EventRecord]:
        """Events oldest first (of one pod, or of all); with `limit`, only the newest that many."""
        where = "WHERE pod_name=? " if pod is not None else ""
        params: tuple = (pod,) if pod is not None else ()
        sql = ("SELECT pod_name, container, type, reason, message, count, first_at, last_at FROM events "
               + where + "ORDER BY last_at DESC, id DESC")
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        rows = self.db.query(sql, params)
        return [EventRecord(pod=row["pod_name"], container=row["container"], type=row["type"], reason=row["reason"],
                            message=row["message"], count=row["count"], first_at=row["first_at"],
                            last_at=row["last_at"]) for row in reversed(rows)]


def insert_event(conn, pod: str, container: str, type: str, reason: str, message: str, at: float) -> None:
    """Record an event of pod `pod` (which exists) in the caller's transaction `conn`: the same newest
    event is counted up; the pod keeps its newest KEEP_PER_POD rows."""
    message = message[:MESSAGE_LIMIT]
    same = conn.execute(
        "SELECT id FROM events WHERE pod_name=? AND container=? AND type=? AND reason=? AND message=? "
        "ORDER BY id DESC LIMIT 1", (pod, container, type, reason, message)).fetchone()
    if same is not None:
        conn.execute("UPDATE events SET count=count+1, last_at=? WHERE id=?", (at, same["id"]))
        return
    conn.execute("INSERT INTO events (pod_name, container, type, reason, message, first_at, last_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (pod, container, type, reason, message, at, at))
    conn.execute("DELETE FROM events WHERE pod_name=? AND last_at <= "
                 "(SELECT last_at FROM events WHERE pod_name=? ORDER BY last_at DESC LIMIT 1 OFFSET ?)",
                 (pod, pod, KEEP_PER_POD))

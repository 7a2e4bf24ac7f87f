"""Opening the state database: pragmas, schema version (PRAGMA user_version), migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.defaults import DATABASE_NAME
from kubeplay.errors import StoreError
from kubeplay.store.schema import MIGRATIONS


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        # one connection serves a command's threads (members are created concurrently): serialize use
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN ourselves so each transaction is explicit and short
            self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            # WAL: readers (pods, exit callbacks) never block the writer of a play
            self.conn.execute("PRAGMA journal_mode=WAL")
            # containers reference pods; a stray row must be impossible
            self.conn.execute("PRAGMA foreign_keys=ON")
            # NORMAL is durable enough under WAL and avoids an fsync per commit
            self.conn.execute("PRAGMA synchronous=NORMAL")
            path.chmod(0o600)  # Secrets live in plans
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"state database {path}: {exc}", hint="check permissions and free space") from exc

    def _migrate(self) -> None:
        # the common case, a current schema, is read without BEGIN IMMEDIATE: a read-only command
        # (pods, ps) then never waits for, or holds up, another command's write lock
        if self._schema_version() == len(MIGRATIONS):
            return
        with self.transaction() as conn:
            version = self._schema_version()  # again under the lock: another command may have migrated
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={len(MIGRATIONS)}")

    def _schema_version(self) -> int:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"state database {self.path} has schema version {version}, newer than this kubeplay knows",
                hint="use a newer kubeplay, or another --root",
            )
        return version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so two writers never deadlock on upgrade."""
        try:
            self._lock.acquire()
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}", hint="retry; if it persists, check the disk") from exc
        finally:
            self._lock.release()

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc

    def close(self) -> None:
        self.conn.close()


def open_database(root: Path) -> Database:
    """The state database of a graph root."""
    return Database(root / DATABASE_NAME)

"""Opening the state database: pragmas, schema version (PRAGMA user_version), migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from threading import RLock

from kubeplay.defaults import DATABASE_NAME
from kubeplay.errors import StoreCorrupted, StoreError
from kubeplay.store.schema import MIGRATIONS


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        # one connection serves a command's threads (members are created concurrently): serialize use
        self._lock = RLock()
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
            raise store_error(path, exc, hint="check the permissions of that file and its directory") from exc

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

    def transaction(self) -> Transaction:
        """BEGIN IMMEDIATE: take the write lock up front so two writers never deadlock on upgrade."""
        return Transaction(self)

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc

    def close(self) -> None:
        self.conn.close()


class Transaction:
    """`with db.transaction() as conn:` commits at the end, rolls back on any exception, and reports
    a database error as a StoreError."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db._lock.acquire()
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            self.db._lock.release()
            if isinstance(exc, sqlite3.Error):
                raise self._failed(exc) from exc
            raise
        return self.db.conn

    def __exit__(self, kind, value, traceback) -> bool:
        try:
            self.db.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        finally:
            self.db._lock.release()
        if isinstance(value, sqlite3.Error):
            raise self._failed(value) from value
        return False

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        return store_error(self.db.path, exc, hint="retry; if it persists, check the disk")


# how SQLite words a database file that is not one, or is damaged (SQLITE_NOTADB, SQLITE_CORRUPT)
_CORRUPT_WORDS = ("file is not a database", "malformed", "corrupt")


def store_error(path: Path, exc: sqlite3.Error, hint: str | None = None) -> StoreError:
    """A database error in words that say what is wrong: a damaged file, a full disk, or else
    SQLite's own message with `hint`."""
    text = str(exc)
    if any(words in text for words in _CORRUPT_WORDS):
        return StoreCorrupted(f"state database {path} is corrupted ({text})",
                          hint=f"restore {path} from a backup, or `kubeplay system reset` to start over "
                               "(it forgets every pod, image and volume of this store)")
    if "disk is full" in text or getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL":
        return StoreError(f"no space left on device: state database {path} ({text})",
                          hint=f"free space on the filesystem of {path.parent} and retry")
    return StoreError(f"state database {path}: {text}", hint=hint)


def open_database(root: Path) -> Database:
    """The state database of a graph root."""
    return Database(root / DATABASE_NAME)

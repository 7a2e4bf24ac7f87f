"""Opening the state database: the schema is made once, a current one is opened without the write
lock (listing never waits for a writer), a newer one is refused."""

from __future__ import annotations

import sqlite3
import time

import pytest

from kubeplay.errors import StoreError
from kubeplay.store.db import open_database
from kubeplay.store.schema import MIGRATIONS


def test_a_fresh_database_gets_the_current_schema(tmp_path):
    db = open_database(tmp_path)
    try:
        assert db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        assert db.query("SELECT count(*) FROM pods")[0][0] == 0
    finally:
        db.close()


def test_a_current_database_opens_while_another_command_holds_the_write_lock(tmp_path):
    open_database(tmp_path).close()
    writer = sqlite3.connect(str(tmp_path / "kubeplay.db"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        db = open_database(tmp_path)
        assert time.monotonic() - started < 5
        assert db.query("SELECT count(*) FROM pods")[0][0] == 0
        db.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_newer_schema_is_refused_with_a_hint(tmp_path):
    open_database(tmp_path).close()
    raw = sqlite3.connect(str(tmp_path / "kubeplay.db"))
    raw.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer than this kubeplay knows") as refused:
        open_database(tmp_path)
    assert "--root" in refused.value.hint

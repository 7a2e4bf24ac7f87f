"""A read-only look at the store that needs nothing but sqlite3: whether it holds any pod.

`kubeplay pods` on an empty store answers from this alone; the full listing (settings, store layer,
status reconciler: ~50 ms of imports) runs only when there is something to show."""

from __future__ import annotations

import os
import sqlite3


def holds_no_pods(database: str) -> bool:
    """True only when `database` certainly holds no pod: it does not exist (and nothing odd stands
    where it would be made), or its pods table is empty. False for anything unexpected — the full
    listing then runs and explains any problem."""
    if not os.path.exists(database):
        directory = os.path.dirname(database)
        return os.path.isdir(directory) or not os.path.exists(directory)
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1.0)
        try:
            return connection.execute("SELECT 1 FROM pods LIMIT 1").fetchone() is None
        finally:
            connection.close()
    except sqlite3.Error:
        return False

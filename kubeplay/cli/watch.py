"""`kubeplay get -w`: after the first listing, print each object again when what its row shows
changes, a new object when it appears, and a deleted one once more with its last state (a pod as
Terminating), as `kubectl get -w` does. No daemon tells of changes: the store is read again every
WATCH_INTERVAL seconds until Ctrl-C (or --watch-timeout).
"""

from __future__ import annotations

import dataclasses
import time

WATCH_INTERVAL = 1.0  # seconds between two reads of the store: short processes write it, no daemon tells

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"  # kubectl's --output-watch-events names


def item_key(item) -> tuple[str, str, str]:
    return (item.kind.name, item.namespace, item.name)


def shown(item) -> tuple:
    """What a row shows of the item, AGE aside (AGE is not a cell: it moves on its own)."""
    return tuple(str(value) for value in item.cells.values())


def as_deleted(item):
    """The item's last row as a deletion shows it: a pod is Terminating with no container ready."""
    if item.kind.name != "pods":
        return item
    cells = dict(item.cells, STATUS="Terminating")
    ready = str(cells.get("READY", ""))
    if "/" in ready:
        cells["READY"] = "0/" + ready.partition("/")[2]
    return dataclasses.replace(item, cells=cells)


def watch_changes(read, view, items: list, limit: float) -> None:
    """Print changes to what `read()` returns, starting from `items`, until Ctrl-C (or `limit`
    seconds, when not 0); ends quietly with exit 0."""
    last = {item_key(item): item for item in items}
    deadline = time.monotonic() + limit if limit else None
    try:
        while deadline is None or time.monotonic() < deadline:
            pause = WATCH_INTERVAL if deadline is None else min(WATCH_INTERVAL, deadline - time.monotonic())
            time.sleep(max(pause, 0))
            current = read()
            changed, added = [], []
            seen = set()
            for item in current:
                key = item_key(item)
                seen.add(key)
                before = last.get(key)
                if before is None:
                    added.append(item)
                elif shown(before) != shown(item):
                    changed.append(item)
                last[key] = item
            deleted = [as_deleted(last.pop(key)) for key in list(last) if key not in seen]
            for event, batch in ((ADDED, added), (MODIFIED, changed), (DELETED, deleted)):
                if batch:
                    view.show(batch, event=event)
    except KeyboardInterrupt:
        return

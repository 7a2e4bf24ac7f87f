"""One host-wide lock for changes to shared network state: bridges and kubeplay's nftables table.

Every store (--root) and every concurrent `play` shares the table and may share a bridge; a change
reads the current state (rule handles, links) and then writes, so two changes at once would act
on stale reads ("No such file or directory" for a rule the other just deleted). The lock file is
in /run, the host's, not a store's run root, because the state it guards is the host's.
Re-entrant within a process: ensure_bridge holds it while it installs the masquerade.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import HostError
from kubeplay.filelock import locked

LOCK_PATH = Path("/run/kubeplay-network.lock")
LOCK_TIMEOUT = 60.0  # seconds; one change takes milliseconds, a queue of 20 plays well under this

_held = threading.local()


@contextmanager
def network_lock(path: Path = LOCK_PATH, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    if not os.access(path.parent, os.W_OK):
        # not root: this process cannot change bridges or the table either, so there is no race
        yield
        return

    def stuck() -> HostError:
        return HostError(f"another kubeplay has held the network lock {path} for {timeout:.0f} s",
                         hint="check for a stuck kubeplay or nft process")

    try:
        with locked(path, timeout, stuck):
            _held.depth = 1
            yield
    except OSError as exc:
        raise HostError(f"cannot open the network lock {path}: {exc}", hint="run as root") from exc
    finally:
        _held.depth = 0


"""Exclusive flock(2) locks on files, with a bounded wait: every lock kubeplay takes goes through here."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import KubeplayError


@contextmanager
def locked(path: Path, timeout: float, on_timeout: Callable[[], KubeplayError]) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created 0600); raise on_timeout() after `timeout` seconds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise on_timeout() from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock

"""Reading container logs written by conmon in the k8s-file format:
`<RFC3339Nano time> <stdout|stderr> <P|F> <text>` — P marks a partial line continued by the next."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from kubeplay.config import containers_conf
from kubeplay.errors import NotFoundError, UserError
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodRecord
from kubeplay.pods.engine import Engine
from kubeplay.pods.logfiles import files_in_order, keep_rotation
from kubeplay.pods.paths import ContainerPaths
from kubeplay.pods.status import reconcile_pod


def pick_container(pod: PodRecord, name: str | None) -> ContainerRecord:
    candidates = [c for c in pod.containers if c.role is not ContainerRole.INFRA]
    if name:
        for container in candidates:
            if container.name == name:
                return container
        raise NotFoundError(f'container "{name}" is not in pod "{pod.name}"',
                            hint="choose one of: " + ", ".join(c.name for c in candidates))
    members = [c for c in candidates if c.role is ContainerRole.MEMBER]
    if len(members) == 1:
        return members[0]
    raise UserError(f'pod "{pod.name}" has several containers: say which with -c',
                    hint="choose one of: " + ", ".join(c.name for c in candidates))


def parse_line(raw: bytes) -> tuple[str, str, bool, bytes] | None:
    """(timestamp, stream, is_full_line, text) of one log record."""
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return parts[0].decode(), parts[1].decode(), parts[2] == b"F", text


def _records(file: BinaryIO, final: bool = False) -> Iterator[tuple[str, bytes]]:
    """Whole lines (partials joined) with the timestamp of their first part.

    A last partial line (output without a trailing newline) is given only when `final`: the writer is done.
    """
    pending = b""
    stamp = ""
    for raw in file:
        parsed = parse_line(raw)
        if parsed is None:
            continue
        timestamp, _, full, text = parsed
        stamp = stamp or timestamp
        pending += text
        if full:
            yield stamp, pending + b"\n"
            pending, stamp = b"", ""
    if final and pending:
        yield stamp, pending + b"\n"


def _emit(out: BinaryIO, stamp: str, line: bytes, timestamps: bool) -> None:
    out.write((stamp.encode() + b" " if timestamps else b"") + line)


def show_logs(engine: Engine, pod_name: str, container_name: str | None = None, *, follow: bool = False,
              tail: int | None = None, timestamps: bool = False, previous: bool = False,
              out: BinaryIO | None = None) -> None:
    out = out or sys.stdout.buffer
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(pod_name))
    container = pick_container(pod, container_name)
    paths = ContainerPaths(engine.settings, container.id)
    path = paths.previous_log if previous else paths.log
    if previous and not path.exists():
        raise NotFoundError(f'container "{container.name}" in pod "{pod_name}" has no previous run',
                            hint="--previous shows the log of the run before the last restart")
    if not path.exists():
        return
    ended = previous or container.status is not ContainerStatus.RUNNING
    max_files = containers_conf().log_max_files
    if not previous:
        keep_rotation(path, max_files)
    older = [] if previous else files_in_order(path)[:-1]
    with open(path, "rb") as file:
        records = chain(_rotated_records(older), _records(file, final=ended))
        selected = deque(records, maxlen=tail) if tail is not None and tail >= 0 else records
        for stamp, line in selected:
            _emit(out, stamp, line, timestamps)
        out.flush()
        if follow and not previous:
            _follow(engine, container, path, file, out, timestamps, max_files)


def _rotated_records(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """The records of the rotated files, oldest first; a file pruned meanwhile is skipped."""
    for path in paths:
        try:
            file = open(path, "rb")
        except FileNotFoundError:
            continue
        with file:
            yield from _records(file, final=True)


def _follow(engine: Engine, container: ContainerRecord, path: Path, file: BinaryIO, out: BinaryIO,
            timestamps: bool, max_files: int) -> None:
    """Print new records while the container runs; stop once it has ended and the file is drained.
    When conmon starts the log afresh (it reached log_size_max: a new file takes the old one's
    name), the rest of the old file is printed, then the new one is followed. Each round also keeps
    the file being written for rotation."""
    while True:
        for stamp, line in _records(file):
            _emit(out, stamp, line, timestamps)
        out.flush()
        keep_rotation(path, max_files)
        renewed = _renewed(path, file)
        if renewed is not None:
            file.close()
            file = renewed
            continue
        record = engine.store.get_container(container.id)
        if record is None or record.status is not ContainerStatus.RUNNING:
            for stamp, line in _records(file, final=True):
                _emit(out, stamp, line, timestamps)
            out.flush()
            return
        from kubeplay.pods.status import reconcile_container

        if reconcile_container(engine.store, engine.settings, record).status is not ContainerStatus.RUNNING:
            continue
        time.sleep(0.1)


def _renewed(path: Path, file: BinaryIO) -> BinaryIO | None:
    """The file now at `path` when it is another one than `file` (the log was started afresh)."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return None  # between conmon's rename steps: the next look finds it
    if current.st_ino == os.fstat(file.fileno()).st_ino:
        return None
    try:
        return open(path, "rb")  # closed by the caller once it follows the next one
    except FileNotFoundError:
        return None

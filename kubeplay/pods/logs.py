"""Reading container logs written by conmon in the k8s-file format:
`<RFC3339Nano time> <stdout|stderr> <P|F> <text>` — P marks a partial line continued by the next."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from kubeplay.config import containers_conf
from kubeplay.errors import NotFoundError
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodRecord
from kubeplay.pods.engine import Engine
from kubeplay.pods.logfiles import files_in_order, keep_rotation
from kubeplay.pods.paths import ContainerPaths
from kubeplay.pods.status import reconcile_pod


def pick_container(pod: PodRecord, name: str | None,
                   notice: Callable[[str], None] | None = None) -> ContainerRecord:
    """The container `name`, or the pod's default one (see pods.targets.default_container)."""
    from kubeplay.pods.targets import default_container

    return default_container(pod, name, notice)


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


@dataclass(frozen=True)
class LogOptions:
    """What of a log to print, and how: as `kubectl logs` takes it."""

    follow: bool = False
    tail: int | None = None
    timestamps: bool = False
    previous: bool = False
    since: float | None = None  # a time (epoch seconds): records written before it are left out
    prefix: bool = False  # each line starts with [pod/NAME/CONTAINER]


class _Writer:
    """Lines of one stream to the shared output, whole lines at a time (several streams may be
    followed at once, each by its own thread)."""

    lock = threading.Lock()

    def __init__(self, out: BinaryIO, options: LogOptions, pod: str, container: str) -> None:
        self.out = out
        self.options = options
        self.label = f"[pod/{pod}/{container}] ".encode() if options.prefix else b""

    def records(self, records: Iterable[tuple[str, bytes]]) -> None:
        since = self.options.since
        chunk = []
        for stamp, line in records:
            if since is not None and record_time(stamp) < since:
                continue
            chunk.append(self.label + (stamp.encode() + b" " if self.options.timestamps else b"") + line)
        if chunk:
            with self.lock:
                self.out.write(b"".join(chunk))
                self.out.flush()


def record_time(stamp: str) -> float:
    """Epoch seconds of a record's RFC 3339 time (nanoseconds dropped); a time that does not parse
    counts as now, so --since keeps the record rather than hiding it."""
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return time.time()


def show_logs(engine: Engine, pod_name: str, container_name: str | None = None, *, follow: bool = False,
              tail: int | None = None, timestamps: bool = False, previous: bool = False,
              out: BinaryIO | None = None) -> None:
    pod = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(pod_name))
    container = pick_container(pod, container_name)
    options = LogOptions(follow=follow, tail=tail, timestamps=timestamps, previous=previous)
    show_streams(engine, [(pod, container)], options, out)


def log_streams(engine: Engine, pods: list[PodRecord], container_name: str | None, all_containers: bool,
                notice: Callable[[str], None] | None = None) -> list[tuple[PodRecord, ContainerRecord]]:
    """(pod, container) of each log to print: every container of each pod (init ones first), or the
    one named, or each pod's default one."""
    streams = []
    for pod in pods:
        pod = reconcile_pod(engine.store, engine.settings, pod)
        if all_containers:
            streams += [(pod, c) for c in pod.containers if c.role is not ContainerRole.INFRA]
        else:
            streams.append((pod, pick_container(pod, container_name, notice)))
    return streams


def show_streams(engine: Engine, streams: list[tuple[PodRecord, ContainerRecord]], options: LogOptions,
                 out: BinaryIO | None = None) -> None:
    """Print the logs of `streams`: one after the other, or, when following several, side by side
    as lines arrive (one thread each; the caller's thread only waits, so Ctrl-C reaches it)."""
    out = out or sys.stdout.buffer
    if not (options.follow and len(streams) > 1):
        for pod, container in streams:
            _show_one(engine, pod, container, options, out)
        return
    threads = [threading.Thread(target=_show_one, args=(engine, pod, container, options, out),
                                name=f"logs-{container.name}", daemon=True) for pod, container in streams]
    engine.prepare_for_threads()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)


def _show_one(engine: Engine, pod: PodRecord, container: ContainerRecord, options: LogOptions,
              out: BinaryIO) -> None:
    paths = ContainerPaths(engine.settings, container.id)
    path = paths.previous_log if options.previous else paths.log
    if options.previous and not path.exists():
        raise NotFoundError(f'container "{container.name}" in pod "{pod.shown_name}" has no previous run',
                            hint="--previous shows the log of the run before the last restart")
    if not path.exists():
        return
    writer = _Writer(out, options, pod.shown_name, container.name)
    ended = options.previous or container.status is not ContainerStatus.RUNNING
    max_files = containers_conf().log_max_files
    if not options.previous:
        keep_rotation(path, max_files)
    older = [] if options.previous else files_in_order(path)[:-1]
    tail = options.tail
    with open(path, "rb") as file:
        records: Iterable[tuple[str, bytes]] = chain(_rotated_records(older), _records(file, final=ended))
        if options.since is not None:
            records = (r for r in records if record_time(r[0]) >= options.since)
        writer.records(deque(records, maxlen=tail) if tail is not None and tail >= 0 else records)
        if options.follow and not options.previous:
            _follow(engine, container, path, file, writer, max_files)


def _rotated_records(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """The records of the rotated files, oldest first; a file pruned meanwhile is skipped."""
    for path in paths:
        try:
            file = open(path, "rb")
        except FileNotFoundError:
            continue
        with file:
            yield from _records(file, final=True)


def _follow(engine: Engine, container: ContainerRecord, path: Path, file: BinaryIO, writer: _Writer,
            max_files: int) -> None:
    """Print new records while the container runs; stop once it has ended and the file is drained.
    When conmon starts the log afresh (it reached log_size_max: a new file takes the old one's
    name), the rest of the old file is printed, then the new one is followed. Each round also keeps
    the file being written for rotation."""
    while True:
        writer.records(_records(file))
        keep_rotation(path, max_files)
        renewed = _renewed(path, file)
        if renewed is not None:
            file.close()
            file = renewed
            continue
        record = engine.store.get_container(container.id)
        if record is None or record.status is not ContainerStatus.RUNNING:
            writer.records(_records(file, final=True))
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

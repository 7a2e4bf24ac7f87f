"""A container's log files: the one conmon writes and the rotated ones kept beside it.

conmon caps the file it writes (`--log-size-max`): once the next record would pass the cap, a new
file is renamed over the old one's name (`ctr.log`), so the full file is gone unless another name
still links it. kubeplay has no daemon to rotate on a timer as the kubelet does; instead the
processes that visit the container — each `logs` and each round of `logs -f`, and the probe
monitor's periodic look at its pod — call `keep_rotation`, which gives the file conmon is writing
a second, numbered name (`ctr.log.1`, `ctr.log.2`, … newer is higher). When conmon later starts
afresh, the full file lives on under that name. At most `max_files` files are kept, the one being
written among them, each at most `log_size_max`. Output that fills more than one file between two
visits keeps only the newest file, as a runtime's own cap does between two passes of the
kubelet's log manager.
"""

from __future__ import annotations

import os
from pathlib import Path


def rotated_logs(log: Path) -> list[Path]:
    """The numbered files kept beside `log`, oldest first."""
    numbered = []
    prefix = log.name + "."
    try:
        names = os.listdir(log.parent)
    except FileNotFoundError:
        return []
    for name in names:
        suffix = name[len(prefix):] if name.startswith(prefix) else ""
        if suffix.isdigit():
            numbered.append((int(suffix), log.parent / name))
    return [path for _, path in sorted(numbered)]


def keep_rotation(log: Path, max_files: int) -> None:
    """Name the file conmon writes so that its next fresh start keeps it, and drop the oldest so that
    after that fresh start there are still at most `max_files` files (1: only the written one)."""
    try:
        current = os.stat(log)
    except FileNotFoundError:
        return
    rotated = [path for path in rotated_logs(log) if not _same_file(path, current)]
    older = max(0, max_files - 2)
    for old in rotated[:max(0, len(rotated) - older)]:
        old.unlink(missing_ok=True)
    if max_files < 2 or not current.st_size:
        return
    named = rotated_logs(log)
    if named and _same_file(named[-1], current):
        return
    number = int(named[-1].name.rsplit(".", 1)[1]) + 1 if named else 1
    try:
        # links whatever `log` names now: conmon may have started afresh since the stat, which only
        # means the newer file is the one kept
        os.link(log, log.with_name(f"{log.name}.{number}"))
    except (FileExistsError, FileNotFoundError):
        pass  # another process named it at the same moment, or conmon is between its two steps


def files_in_order(log: Path) -> list[Path]:
    """Every file of the log, oldest first, each once (two visits at one moment may have named one
    file twice); the one conmon writes (`log`) last."""
    try:
        current = os.stat(log)
    except FileNotFoundError:
        current = None
    seen = {(current.st_dev, current.st_ino)} if current is not None else set()
    files = []
    for path in rotated_logs(log):
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            files.append(path)
    return files + ([log] if current is not None else [])


def discard_rotations(log: Path) -> None:
    """Remove the numbered files: the container starts a new run with a new log."""
    for path in rotated_logs(log):
        path.unlink(missing_ok=True)


def _same_file(path: Path | None, stat: os.stat_result) -> bool:
    if path is None:
        return False
    try:
        other = os.stat(path)
    except FileNotFoundError:
        return False
    return (other.st_dev, other.st_ino) == (stat.st_dev, stat.st_ino)

"""The content store: blobs by digest under <root>/blobs/sha256/<hex>.

A blob is written to an ingest file, its size and digest checked, and only then renamed into
place, so a half-written or corrupt blob is never visible, and concurrent writers of the same blob
are harmless (the last rename wins with identical content).

The ingest file of a blob has a fixed name (`.ingest-<hex>`) and its writer holds a lock on it.
A pull killed half-way leaves it unlocked: the next pull of the blob resumes from what it holds
(`writer(resume=True)`), and `stale_ingests` finds it for `rmi` and `image prune` to remove. A
second writer of a blob whose ingest file is locked writes to a private one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from kubeplay.errors import ContentError, space_error

_CHUNK = 1 << 20


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _split(digest: str) -> tuple[str, str]:
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise ContentError(f"unsupported or malformed digest {digest!r}", hint="only sha256 digests are supported")
    return algorithm, hexpart


INGEST_PREFIX = ".ingest-"


class _VerifyingWriter:
    """A file-like sink that hashes what passes through it; `size` bytes are in it already."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    def take_existing(self) -> None:
        """Count in (and hash) what an earlier writer left in the file, to go on after it."""
        self._file.seek(0)
        while chunk := self._file.read(_CHUNK):
            self._hash.update(chunk)
            self.size += len(chunk)

    def restart(self) -> None:
        """Drop what the file holds: the source sends the whole blob again."""
        self._file.seek(0)
        self._file.truncate()
        self._hash = hashlib.sha256()
        self.size = 0

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "blobs"

    def path(self, digest: str) -> Path:
        algorithm, hexpart = _split(digest)
        return self.root / algorithm / hexpart

    def has(self, digest: str, size: int | None = None) -> bool:
        try:
            info = self.path(digest).stat()
        except FileNotFoundError:
            return False
        return size is None or size < 0 or info.st_size == size

    @contextmanager
    def writer(self, digest: str, size: int | None = None, what: str = "blob",
               resume: bool = False) -> Iterator[_VerifyingWriter]:
        """Write a blob expected to have `digest` (and `size`); verified before it becomes visible.

        With `resume`, what an interrupted writer left is kept and counted in (`sink.size` tells
        how much: the caller sends the rest, or calls `sink.restart()`), and a failure while
        writing keeps what was written for the next attempt; a blob that fails verification is
        never kept."""
        target = self.path(digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            path, fd = self._ingest_file(target)
        except OSError as exc:
            raise space_error(exc, target.parent) or exc
        done = False
        try:
            with os.fdopen(fd, "r+b") as file:
                sink = _VerifyingWriter(file)
                if resume:
                    sink.take_existing()
                else:
                    sink.restart()
                try:
                    yield sink
                except OSError as exc:
                    done = not resume  # a cut download is resumed next time; anything else starts over
                    raise space_error(exc, target.parent) or exc
                except BaseException:
                    done = not resume
                    raise
                done = True
                try:
                    file.flush()
                except OSError as exc:
                    raise space_error(exc, target.parent) or exc
                self._verify(sink, digest, size, what)
                os.replace(path, target)  # still locked: no second writer takes the file meanwhile
        finally:
            if done and os.path.exists(path):
                os.unlink(path)

    def _ingest_file(self, target: Path) -> tuple[Path, int]:
        """The blob's ingest file, opened and locked; a private one when another writer holds it."""
        path = target.parent / f"{INGEST_PREFIX}{target.name}"
        for _ in range(3):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                break
            if _same_file(fd, path):
                return path, fd
            os.close(fd)  # removed as stale between the open and the lock: open it anew
        fd, name = tempfile.mkstemp(prefix=f"{INGEST_PREFIX}{target.name}.", dir=target.parent)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a file no one else knows: never held
        return Path(name), fd

    @staticmethod
    def _verify(sink: _VerifyingWriter, digest: str, size: int | None, what: str) -> None:
        if size is not None and size >= 0 and sink.size != size:
            raise ContentError(
                f"{what} {digest}: expected {size} bytes, got {sink.size}",
                hint="the source is corrupt or was cut short; retry, and check the registry or archive",
            )
        if sink.digest != digest:
            raise ContentError(
                f"{what} {digest}: content does not match its digest (got {sink.digest})",
                hint="the source is corrupt; nothing was stored",
            )

    def remove_stale_ingests(self) -> list[Path]:
        """Delete the ingest files no writer holds (left by pulls that were killed); each is
        removed while locked, so a pull that opens it meanwhile takes a new one."""
        directory = self.root / "sha256"
        if not directory.is_dir():
            return []
        removed = []
        for entry in directory.iterdir():
            if not entry.name.startswith(INGEST_PREFIX):
                continue
            try:
                fd = os.open(entry, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # renamed into place meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same_file(fd, entry):
                    entry.unlink()
                    removed.append(entry)
            except BlockingIOError:
                pass  # a pull is writing it now
            finally:
                os.close(fd)
        return removed

    def put_bytes(self, data: bytes, digest: str | None = None, what: str = "blob") -> str:
        digest = digest or digest_bytes(data)
        if not self.has(digest, len(data)):
            with self.writer(digest, len(data), what) as sink:
                sink.write(data)
        return digest

    def put_stream(self, stream: BinaryIO, digest: str, size: int | None = None, what: str = "blob") -> None:
        with self.writer(digest, size, what) as sink:
            while chunk := stream.read(_CHUNK):
                sink.write(chunk)

    def read_bytes(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise ContentError(f"blob {digest} is missing from the store", hint="pull the image again") from exc

    def remove(self, digest: str) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            pass

    def digests(self) -> Iterator[str]:
        directory = self.root / "sha256"
        if directory.is_dir():
            for entry in directory.iterdir():
                if not entry.name.startswith("."):
                    yield "sha256:" + entry.name


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False

"""The content store: blobs by digest under <root>/blobs/sha256/<hex>.

A blob is written to a temporary file, its size and digest checked, and only then renamed into
place, so a half-written or corrupt blob is never visible, and concurrent writers of the same blob
are harmless (the last rename wins with identical content).
"""

from __future__ import annotations

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


class _VerifyingWriter:
    """A file-like sink that hashes what passes through it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

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
    def writer(self, digest: str, size: int | None = None, what: str = "blob") -> Iterator[_VerifyingWriter]:
        """Write a blob expected to have `digest` (and `size`); verified before it becomes visible."""
        target = self.path(digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".ingest-", dir=target.parent)
        except OSError as exc:
            raise space_error(exc, target.parent) or exc
        try:
            try:
                with os.fdopen(fd, "wb") as file:
                    sink = _VerifyingWriter(file)
                    yield sink
            except OSError as exc:
                raise space_error(exc, target.parent) or exc
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
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

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

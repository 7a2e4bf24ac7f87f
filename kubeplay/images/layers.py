"""Unpacked layers: each layer extracted once into <root>/layers/<diff-id hex>/, ready for overlayfs.

A layer is extracted into a private temporary sibling directory and renamed into place only when
complete, so an interrupted unpack is never visible and two processes unpacking the same layer both
succeed (the loser of the rename discards its copy). The diff id, the sha256 of the uncompressed
tar, is computed while extracting; kubeplay.images.extract writes the entries (whiteouts, escapes
refused).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from kubeplay.errors import ContentError, space_error
from kubeplay.images.extract import EscapeError, Extractor
from kubeplay.images.lookup import layer_path
from kubeplay.logs import get_logger

log = get_logger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20
# linux/fs.h: FS_IOC_GETFLAGS/SETFLAGS (_IOR/_IOW('f', 1/2, long)) and FS_TOPDIR_FL
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000


def compression_of(head: bytes) -> str:
    """"gzip", "zstd" or "" (plain tar), from the magic bytes.

    The magic decides rather than the media type: docker archives carry no media types, and a
    mislabelled blob still unpacks when its bytes are sound.
    """
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return ""


class _GunzipReader:
    """A streaming gzip reader that also accepts concatenated members, as `gzip -d` does.

    tarfile reads in small pieces (10 KiB, and 512 B headers); the inflated data is kept as one
    buffer and an offset, so a small read costs a small copy rather than a copy of all that is left.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits=31)
        self._buffer = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        size = _CHUNK if size is None or size < 0 else size
        available = len(self._buffer) - self._offset
        if available < size:
            self._refill(size - available)
        start = self._offset
        self._offset = min(len(self._buffer), start + size)
        return self._buffer[start:self._offset]

    def _refill(self, wanted: int) -> None:
        pieces = [self._buffer[self._offset:]]
        got = 0
        while got < wanted:
            piece = self._inflate_some()
            if piece is None:
                break
            pieces.append(piece)
            got += len(piece)
        self._buffer, self._offset = b"".join(pieces), 0

    def _inflate_some(self) -> bytes | None:
        """The next inflated bytes (possibly empty); None at the end of the last member."""
        if self._inflate.eof:
            rest = self._inflate.unused_data
            if not rest.strip(b"\0"):
                rest = self._raw.read(_CHUNK)
                if not rest:
                    return None
            self._inflate = zlib.decompressobj(wbits=31)
            return self._inflate.decompress(rest)
        data = self._raw.read(_CHUNK)
        if not data:
            raise EOFError("compressed stream ends before its end marker")
        return self._inflate.decompress(data)


class HashingReader:
    """Hashes and counts everything read through it: the diff id is the digest of this stream."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def open_uncompressed(file: BinaryIO):
    """A reader of the tar inside `file`, whichever compression it has."""
    head = file.read(4)
    file.seek(0)
    kind = compression_of(head)
    if kind == "gzip":
        return _GunzipReader(file)
    if kind == "zstd":
        import zstandard  # only zstd layers pay for the import

        return zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True)
    return file


def diff_id_of(blob_path: Path) -> str:
    """The sha256 of the uncompressed content of a layer blob, without unpacking it."""
    with open(blob_path, "rb") as file:
        reader = HashingReader(open_uncompressed(file))
        try:
            reader.drain()
        except Exception as exc:
            raise ContentError(f"layer {blob_path}: cannot be decompressed: {exc}",
                               hint="the layer is corrupt; fetch or export it again") from exc
        return reader.digest


class LayerStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "layers"

    def path(self, diff_id: str) -> Path:
        return layer_path(self.root.parent, diff_id)

    def has(self, diff_id: str) -> bool:
        return self.path(diff_id).is_dir()

    def remove(self, diff_id: str) -> None:
        """Rename away first, so a half-deleted layer never looks like a whole one."""
        target = self.path(diff_id)
        if not target.exists():
            return
        doomed = Path(tempfile.mkdtemp(prefix=".remove-", dir=self.root))
        try:
            target.rename(doomed / "layer")
        except FileNotFoundError:
            pass  # removed concurrently
        shutil.rmtree(doomed, ignore_errors=True)

    def diff_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return ["sha256:" + entry.name for entry in self.root.iterdir() if not entry.name.startswith(".")]

    def unpack(self, blob_path: Path, media_type: str = "", expected_diff_id: str | None = None) -> str:
        """Unpack a layer blob (gzip, zstd or plain tar) unless already there; returns its diff id."""
        if expected_diff_id is not None and self.has(expected_diff_id):
            return expected_diff_id
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            spread_subdirectories(self.root)  # also for stores made before the flag was set
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=self.root))
        except OSError as exc:
            raise space_error(exc, self.root) or exc
        try:
            tree = staging / "tree"
            tree.mkdir(0o755)  # a root entry in the tar may set its own mode
            diff_id = self._extract(blob_path, media_type, tree)
            if expected_diff_id is not None and diff_id != expected_diff_id:
                raise ContentError(
                    f"layer {blob_path.name}: its content has diff id {diff_id}, the image config says "
                    f"{expected_diff_id}",
                    hint="the image is corrupt; pull or load it again",
                )
            try:
                tree.rename(self.path(diff_id))
            except OSError:
                if not self.has(diff_id):
                    raise
                # another process unpacked the same layer first: its copy is identical
            return diff_id
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _extract(self, blob_path: Path, media_type: str, tree: Path) -> str:
        label = blob_path.name + (f" ({media_type})" if media_type else "")
        try:
            with open(blob_path, "rb") as file:
                reader = HashingReader(open_uncompressed(file))
                with tarfile.open(fileobj=reader, mode="r|", encoding="utf-8", errors="surrogateescape") as tar:
                    Extractor(str(tree), tar).run()
                reader.drain()  # the end-of-archive padding counts in the diff id
                return reader.digest
        except EscapeError as exc:
            raise ContentError(f"layer {label}: entry {exc} escapes the layer; refusing to unpack it",
                               hint="the image is malformed or malicious; do not use it") from exc
        except ContentError:
            raise
        except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
            if no_space := space_error(exc, self.root):
                raise no_space from exc
            raise ContentError(f"layer {label}: cannot be unpacked: {exc}",
                               hint="the layer is corrupt or not a tar archive; fetch or export it again") from exc
        except Exception as exc:  # zstandard.ZstdError and friends, imported lazily
            if type(exc).__module__.startswith("zstandard"):
                raise ContentError(f"layer {label}: cannot be decompressed: {exc}",
                                   hint="the layer is corrupt; fetch or export it again") from exc
            raise


def spread_subdirectories(directory: Path) -> None:
    """Mark `directory` as the top of directory hierarchies (chattr +T) where the filesystem knows it.

    Each layer is an unrelated tree. On ext4, the Orlov allocator then places each new layer in a
    block group of its own choosing instead of its parent's group; without a journal, ext4 skips
    inodes freed in the last minutes and rescans them for every new inode, so unpacking next to
    recently removed trees was many times slower per file than in a quiet group. Filesystems
    without the flag refuse the ioctl, which changes nothing.
    """
    import array
    import fcntl

    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flags = array.array("i", [0, 0])  # room for the long the ioctl is declared with
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        if not flags[0] & _FS_TOPDIR_FL:
            flags[0] |= _FS_TOPDIR_FL
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags, True)
    except OSError as exc:
        log.debug("%s: top-of-hierarchy flag not set: %s", directory, exc)
    finally:
        os.close(fd)

"""Extraction of one layer's tar stream into a fresh directory, with OCI whiteouts and no escapes.

This is done here rather than by tarfile, which neither refuses every escape nor knows OCI
whiteouts: `.wh.NAME` becomes the 0:0 character device overlayfs uses to hide NAME, and
`.wh..wh..opq` marks its directory opaque with the trusted.overlay.opaque xattr. No entry may
write outside the layer, through `..`, an absolute path or a symlink unpacked earlier.

A layer has thousands of entries, so the per-entry work is kept to what the entry needs: paths
are plain strings, directories this extraction made or checked are remembered (and forgotten when
an entry replaces them) instead of being checked again for every entry below them, only paths an
earlier entry used are cleared, a file's metadata is set through its open descriptor, and its
owner only when it is not the owner it was created with.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile

from kubeplay.logs import get_logger

log = get_logger(__name__)

_CHUNK = 1 << 20
# Files are written 64 KiB at a time: the page cache keeps a freshly written file in folios as large
# as the writes, and a process that maps it (every binary and library a container runs) then maps
# whole folios. With 1 MiB writes a busybox `sleep` mapped ~380 KiB more than with 64 KiB writes,
# which no smaller write reduced further (64 KiB is the kernel's fault-around size).
_WRITE = 64 << 10
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


class EscapeError(Exception):
    """An entry tried to leave the layer root; the caller names the layer."""


def components(name: str, entry: str) -> list[str]:
    """The path of an archive member as safe components; raises EscapeError on any way out."""
    if name.startswith("/"):
        raise EscapeError(f"{entry!r} (absolute path)")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise EscapeError(f"{entry!r} (contains '..')")
    return parts


class Extractor:
    """Writes one tar stream into the empty directory `tree`; directory metadata comes last, deepest first."""

    def __init__(self, tree: str, tar: tarfile.TarFile) -> None:
        self.tree = tree
        self.tar = tar
        self.uid, self.gid = os.geteuid(), os.getegid()
        self.privileged = self.uid == 0
        self.dirs: dict[str, tarfile.TarInfo] = {}
        # relative paths known to be real directories (made or lstat-checked here), and every
        # relative path an entry has created: anything else cannot exist yet in a fresh tree
        self.real_dirs: set[str] = {""}
        self.used: set[str] = set()

    def run(self) -> None:
        for member in self.tar:
            self._member(member)
        for relative in sorted(self.dirs, key=lambda p: p.count("/"), reverse=True):
            self._metadata(self._path(relative), self.dirs[relative], fresh=True)

    def _path(self, relative: str) -> str:
        return f"{self.tree}/{relative}" if relative else self.tree

    def _parent(self, parts: list[str], entry: str) -> str:
        """The relative directory an entry goes in, made as needed, never reached through a symlink."""
        relative = ""
        for part in parts[:-1]:
            relative = f"{relative}/{part}" if relative else part
            if relative in self.real_dirs:
                continue
            path = self._path(relative)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
            else:
                if stat.S_ISLNK(info.st_mode):
                    raise EscapeError(f"{entry!r} (goes through the symlink {part!r})")
                if not stat.S_ISDIR(info.st_mode):
                    os.unlink(path)  # a later entry replaces a file with a directory
                    os.mkdir(path, 0o755)
            self.real_dirs.add(relative)
            self.used.add(relative)
        return relative

    def _clear(self, relative: str) -> None:
        """Make room for an entry: a later entry replaces whatever an earlier one left there."""
        if relative not in self.used:
            return
        path = self._path(relative)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(path)
            below = relative + "/"
            self.real_dirs = {d for d in self.real_dirs if d != relative and not d.startswith(below)}
            self.dirs = {d: m for d, m in self.dirs.items() if d != relative and not d.startswith(below)}
        else:
            os.unlink(path)

    def _member(self, member: tarfile.TarInfo) -> None:
        parts = components(member.name, member.name)
        if not parts:
            if member.isdir():
                self.dirs[""] = member  # the layer root's own metadata
            return
        parent = self._parent(parts, member.name)
        base = parts[-1]
        if base == OPAQUE_MARKER:
            _set_opaque(self._path(parent))
            return
        if base.startswith(WHITEOUT_PREFIX):
            hidden = base[len(WHITEOUT_PREFIX):]
            if not hidden or hidden.startswith(WHITEOUT_PREFIX):
                log.debug("skipping %s: aufs metadata, not a whiteout", member.name)
                return
            relative = f"{parent}/{hidden}" if parent else hidden
            self._clear(relative)
            os.mknod(self._path(relative), stat.S_IFCHR | 0o000, os.makedev(0, 0))
            self.used.add(relative)
            return
        relative = f"{parent}/{base}" if parent else base
        if member.isdir():
            if relative not in self.real_dirs:
                self._clear(relative)
                os.mkdir(self._path(relative), 0o755)
                self.real_dirs.add(relative)
                self.used.add(relative)
            self.dirs[relative] = member
            return
        self._clear(relative)
        self.used.add(relative)
        self._create(member, relative, parts)

    def _create(self, member: tarfile.TarInfo, relative: str, parts: list[str]) -> None:
        path = self._path(relative)
        if member.isreg():
            self._write_file(member, path)
            return
        if member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self._hard_link(member, path, parts)
            return  # a hard link shares its target's inode and metadata
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            except PermissionError:
                log.warning("skipping device node %s: creating devices needs privileges", member.name)
                return
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            log.warning("skipping %s: unsupported tar entry type %r", member.name, member.type)
            return
        self._metadata(path, member, fresh=True)

    def _write_file(self, member: tarfile.TarInfo, path: str) -> None:
        source = self.tar.extractfile(member)
        assert source is not None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            remaining = member.size
            while remaining > 0:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise tarfile.ReadError(f"{member.name}: unexpected end of data")
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view[:_WRITE]):]
                remaining -= len(chunk)
            self._metadata(fd, member, fresh=True)
        finally:
            os.close(fd)

    def _hard_link(self, member: tarfile.TarInfo, path: str, parts: list[str]) -> None:
        described = f"{member.name} -> {member.linkname}"
        target_parts = components(member.linkname, described)
        target_parent = self._parent(target_parts, described)
        target = self._path(f"{target_parent}/{target_parts[-1]}" if target_parent else target_parts[-1])
        if target_parts == parts or not os.path.lexists(target) or os.path.isdir(target) and not os.path.islink(target):
            raise tarfile.TarError(f"hard link {member.name} points to missing or invalid {member.linkname}")
        os.link(target, path, follow_symlinks=False)

    def _metadata(self, where: str | int, member: tarfile.TarInfo, fresh: bool) -> None:
        """Owner, then mode (chown clears setuid bits), xattrs, then mtime; `where` is a path or an fd.

        A `fresh` entry was made by this process, so it already has our owner.
        """
        by_path = isinstance(where, str)
        if not fresh or (member.uid, member.gid) != (self.uid, self.gid):
            try:
                if by_path:
                    os.lchown(where, member.uid, member.gid)
                else:
                    os.fchown(where, member.uid, member.gid)
            except PermissionError:
                if self.privileged:
                    raise
        if not member.issym():
            os.chmod(where, stat.S_IMODE(member.mode))
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                self._xattr(where, member, key[len("SCHILY.xattr."):], value)
        mtime = int(member.mtime * 1e9)
        if by_path:
            os.utime(where, ns=(mtime, mtime), follow_symlinks=False)
        else:
            os.utime(where, ns=(mtime, mtime))

    @staticmethod
    def _xattr(where: str | int, member: tarfile.TarInfo, name: str, value: str) -> None:
        if name.startswith("trusted.overlay."):
            return  # only kubeplay decides what overlayfs hides
        try:
            if isinstance(where, str):
                os.setxattr(where, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            else:
                os.setxattr(where, name, value.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            log.debug("xattr %s on %s not kept: %s", name, member.name, exc)


def _set_opaque(directory: str) -> None:
    try:
        os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)
    except PermissionError:
        # unprivileged: overlayfs mounted with "userxattr" reads the user.* namespace instead
        os.setxattr(directory, "user.overlay.opaque", b"y", follow_symlinks=False)

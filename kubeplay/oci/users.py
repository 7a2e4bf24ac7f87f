"""Users and groups of an image: /etc/passwd and /etc/group read safely from inside a rootfs.

The rootfs comes from an image, so its files are untrusted: a symlink such as /etc/passwd ->
/host/etc/shadow must resolve inside the rootfs, never on the host. Paths are resolved component by
component with the rootfs as "/", and files are read with a size cap.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import UserError

MAX_SYMLINKS = 40  # as the kernel's own limit on one path walk
MAX_FILE_BYTES = 4 << 20


@dataclass(frozen=True)
class PasswdEntry:
    """A line of an image's /etc/passwd."""

    name: str
    uid: int
    gid: int
    home: str = ""


@dataclass(frozen=True)
class GroupEntry:
    """A line of an image's /etc/group."""

    name: str
    gid: int
    members: tuple[str, ...] = ()


def resolve_in_root(root: Path, path: str) -> Path:
    """The host path of `path` as seen with `root` as "/": symlinks and ".." never leave root."""
    pending = [part for part in path.split("/") if part]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if not stat.S_ISLNK(info.st_mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, "too many symbolic links", str(root / path.lstrip("/")))
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p] + pending
    return root.joinpath(*resolved)


def read_rootfs_file(root: Path, path: str) -> str | None:
    """The text of a regular file inside root, or None when it is absent."""
    host_path = resolve_in_root(root, path)
    try:
        # O_NOFOLLOW: the last component was resolved above; a symlink swapped in now is refused
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        data = handle.read(MAX_FILE_BYTES + 1)
    return data[:MAX_FILE_BYTES].decode("utf-8", errors="replace")


def parse_passwd(text: str) -> list[PasswdEntry]:
    """name:password:uid:gid:gecos:home:shell lines; malformed lines are skipped, as libc does."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 4 or not fields[0] or line.startswith(("#", "+", "-")):
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        home = fields[5] if len(fields) > 5 else ""
        entries.append(PasswdEntry(name=fields[0], uid=uid, gid=gid, home=home))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    """name:password:gid:member,member lines; malformed lines are skipped."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 3 or not fields[0] or line.startswith(("#", "+", "-")):
            continue
        try:
            gid = int(fields[2])
        except ValueError:
            continue
        members = tuple(m.strip() for m in fields[3].split(",") if m.strip()) if len(fields) > 3 else ()
        entries.append(GroupEntry(name=fields[0], gid=gid, members=members))
    return entries


def _read_table(rootfs: Path, path: str, container: str) -> str:
    try:
        return read_rootfs_file(rootfs, path) or ""
    except OSError as exc:
        raise UserError(
            f"container \"{container}\": cannot read {path} in its image: {exc.strerror or exc}",
            hint=f"fix {path} in the image, or set a numeric runAsUser/runAsGroup",
        ) from exc


def _parse_id(text: str) -> int | None:
    if text.isdigit():
        value = int(text)
        if value < 2**32 - 1:
            return value
    return None


@dataclass(frozen=True)
class ResolvedUser:
    """The uid, gid and image-defined supplementary groups a container's process runs with."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    name: str = ""
    home: str = ""


def resolve_user(rootfs: Path, user: str, group: str = "", container: str = "") -> ResolvedUser:
    """Resolve an image USER ("name", "uid", "uid:gid", "name:group") against the rootfs.

    `group`, when given, overrides any group in `user`. A numeric uid absent from /etc/passwd runs
    with gid 0, as the runtimes do; an unknown name is an error naming the container and the user.
    Supplementary groups come from /etc/group membership of the user's name.
    """
    user_part, _, group_part = (user or "0").partition(":")
    group_part = group or group_part
    uid = _parse_id(user_part)
    passwd = parse_passwd(_read_table(rootfs, "/etc/passwd", container))
    if uid is None:
        entry = next((e for e in passwd if e.name == user_part), None)
        if entry is None:
            raise UserError(
                f"container \"{container}\": user \"{user_part}\" is not in the image's /etc/passwd",
                hint="use a numeric uid (runAsUser or USER 1000), or add the user to the image",
            )
    else:
        entry = next((e for e in passwd if e.uid == uid), None)
    uid = entry.uid if entry else uid
    gid = entry.gid if entry else 0
    assert uid is not None
    groups = parse_group(_read_table(rootfs, "/etc/group", container))
    if group_part:
        gid = _resolve_group(groups, group_part, container)
    additional: list[int] = []
    if entry is not None:
        additional = [g.gid for g in groups if entry.name in g.members]
    return ResolvedUser(
        uid=uid,
        gid=gid,
        additional_gids=tuple(dict.fromkeys(additional)),
        name=entry.name if entry else "",
        home=entry.home if entry else "",
    )


def _resolve_group(groups: list[GroupEntry], group: str, container: str) -> int:
    gid = _parse_id(group)
    if gid is not None:
        return gid
    match = next((g for g in groups if g.name == group), None)
    if match is None:
        raise UserError(
            f"container \"{container}\": group \"{group}\" is not in the image's /etc/group",
            hint="use a numeric gid (runAsGroup or USER uid:gid), or add the group to the image",
        )
    return match.gid

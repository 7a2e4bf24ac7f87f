"""Subordinate id ranges (/etc/subuid, /etc/subgid) and the id maps built from them.

A line is ``NAME:START:COUNT`` or ``UID:START:COUNT``; a user may have several. Inside the user
namespace id 0 is the user itself and ids 1.. are the subordinate ranges, in file order, as podman
maps them. A user without an entry gets the exact command that adds one, with a free range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import HostError

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
DEFAULT_START = 100_000
DEFAULT_COUNT = 65_536


@dataclass(frozen=True)
class IdRange:
    """A range of subordinate ids."""

    start: int
    count: int

    @property
    def end(self) -> int:
        """One past the last id."""
        return self.start + self.count


# (id inside the namespace, id outside, how many): the order newuidmap takes its arguments in
IdMap = tuple[int, int, int]


def parse_ranges(text: str) -> list[tuple[str, IdRange]]:
    """Every well-formed (owner, range) of a subuid/subgid file; comments and junk lines are skipped."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        count = int(parts[2])
        if count > 0:
            entries.append((parts[0], IdRange(int(parts[1]), count)))
    return entries


def ranges_for(text: str, user: str, uid: int) -> list[IdRange]:
    """The ranges a user owns, matched by name or by numeric id."""
    return [entry for owner, entry in parse_ranges(text) if owner in (user, str(uid))]


def read_ranges(path: Path, user: str, uid: int) -> list[IdRange]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise HostError(f"cannot read {path}: {exc.strerror}",
                        hint=f"make {path} readable (mode 0644), as shadow-utils installs it") from exc
    return ranges_for(text, user, uid)


def free_start(texts: list[str], count: int = DEFAULT_COUNT) -> int:
    """The lowest start >= 100000 that overlaps no range of any user in these files."""
    taken = sorted((entry for text in texts for _, entry in parse_ranges(text)), key=lambda entry: entry.start)
    start = DEFAULT_START
    for entry in taken:
        if entry.end <= start:
            continue
        if entry.start >= start + count:
            break
        start = entry.end
    return start


def fix_command(user: str, start: int, count: int = DEFAULT_COUNT) -> str:
    last = start + count - 1
    return f"usermod --add-subuids {start}-{last} --add-subgids {start}-{last} {user}"


def missing_entry_error(user: str, which: list[Path], texts: list[str]) -> HostError:
    start = free_start(texts)
    names = " and ".join(str(path) for path in which)
    return HostError(
        f"user \"{user}\" has no subordinate ids in {names}: rootless pods need a range of ids to map",
        hint=f"as root run `{fix_command(user, start)}` "
             f"(or add the line `{user}:{start}:{DEFAULT_COUNT}` to {names})",
    )


def id_maps(own_id: int, ranges: list[IdRange]) -> list[IdMap]:
    """0 is the user itself; 1.. are the subordinate ranges laid end to end."""
    maps: list[IdMap] = [(0, own_id, 1)]
    inside = 1
    for entry in ranges:
        maps.append((inside, entry.start, entry.count))
        inside += entry.count
    return maps


def map_arguments(maps: list[IdMap]) -> list[str]:
    """newuidmap/newgidmap's triples, flattened."""
    return [str(number) for triple in maps for number in triple]


@dataclass(frozen=True)
class UserIds:
    """One user's subordinate uid and gid ranges, both required."""

    user: str
    uid: int
    gid: int
    uids: list[IdRange]
    gids: list[IdRange]

    @property
    def uid_maps(self) -> list[IdMap]:
        return id_maps(self.uid, self.uids)

    @property
    def gid_maps(self) -> list[IdMap]:
        return id_maps(self.gid, self.gids)


def user_ids(user: str, uid: int, gid: int, subuid: Path = SUBUID, subgid: Path = SUBGID) -> UserIds:
    """The user's ranges; a missing entry in either file is a HostError with the fix."""
    uids = read_ranges(subuid, user, uid)
    gids = read_ranges(subgid, user, uid)
    missing = [path for path, found in ((subuid, uids), (subgid, gids)) if not found]
    if missing:
        texts = [path.read_text() for path in (subuid, subgid) if path.is_file()]
        raise missing_entry_error(user, missing, texts)
    return UserIds(user, uid, gid, uids, gids)

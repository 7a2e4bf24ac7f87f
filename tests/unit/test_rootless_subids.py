"""Subordinate id files: parsing, matching a user, the id maps, and the fix offered when missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import HostError
from kubeplay.rootless.subids import (
    IdRange,
    fix_command,
    free_start,
    id_maps,
    map_arguments,
    parse_ranges,
    ranges_for,
    user_ids,
)

SAMPLE = """# comment
alice:100000:65536
1001:165536:65536
broken line
bob:x:10
alice:300000:1000
zero:400000:0
"""


def test_parse_skips_comments_junk_and_empty_ranges() -> None:
    owners = [owner for owner, _ in parse_ranges(SAMPLE)]
    assert owners == ["alice", "1001", "alice"]


@pytest.mark.parametrize("user, uid, expected", [
    ("alice", 1000, [IdRange(100000, 65536), IdRange(300000, 1000)]),
    ("carol", 1001, [IdRange(165536, 65536)]),  # matched by numeric uid
    ("dave", 1002, []),
])
def test_ranges_for_matches_name_or_uid(user: str, uid: int, expected: list[IdRange]) -> None:
    assert ranges_for(SAMPLE, user, uid) == expected


def test_id_maps_put_the_user_at_zero_and_ranges_end_to_end() -> None:
    maps = id_maps(1000, [IdRange(100000, 65536), IdRange(300000, 1000)])
    assert maps == [(0, 1000, 1), (1, 100000, 65536), (65537, 300000, 1000)]
    assert map_arguments(maps[:2]) == ["0", "1000", "1", "1", "100000", "65536"]


def test_free_start_avoids_every_existing_range() -> None:
    assert free_start([""]) == 100000
    assert free_start([SAMPLE]) == 231072  # after 165536+65536; 300000+ is far enough
    assert free_start(["a:100000:65536\n", "b:165536:10\n"]) == 165546


def test_fix_command_is_the_usermod_line() -> None:
    assert fix_command("alice", 100000) == "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice"


def test_missing_entries_name_both_files_and_give_the_command_and_the_line(tmp_path: Path) -> None:
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("other:100000:65536\n")
    subgid.write_text("other:100000:65536\n")
    with pytest.raises(HostError) as caught:
        user_ids("alice", 1000, 1000, subuid, subgid)
    assert str(subuid) in caught.value.message and str(subgid) in caught.value.message
    assert "usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice" in caught.value.hint
    assert "alice:165536:65536" in caught.value.hint


def test_only_subgid_missing_names_only_that_file(tmp_path: Path) -> None:
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("alice:100000:65536\n")
    subgid.write_text("")
    with pytest.raises(HostError) as caught:
        user_ids("alice", 1000, 1000, subuid, subgid)
    assert str(subgid) in caught.value.message and str(subuid) not in caught.value.message


def test_user_ids_with_both_files(tmp_path: Path) -> None:
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("alice:100000:65536\n")
    subgid.write_text("alice:200000:65536\n")
    ids = user_ids("alice", 1000, 1001, subuid, subgid)
    assert ids.uid_maps == [(0, 1000, 1), (1, 100000, 65536)]
    assert ids.gid_maps == [(0, 1001, 1), (1, 200000, 65536)]

"""Keeping a container's log files: numbered names for the files conmon starts afresh from, the newest
kept, read oldest first. conmon's fresh start is played here as it does it: a new file renamed over."""

from __future__ import annotations

import os
from pathlib import Path

from kubeplay import config
from kubeplay.config import ContainersConf
from kubeplay.pods.logfiles import discard_rotations, files_in_order, keep_rotation


def fresh_start(log: Path, text: str) -> None:
    tmp = log.with_name(log.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, log)


def contents(log: Path) -> list[str]:
    return [path.read_text() for path in files_in_order(log)]


def test_each_visit_keeps_the_file_being_written_and_the_newest_files_stay(tmp_path):
    log = tmp_path / "ctr.log"
    log.write_text("a")
    for text in "bcdef":
        keep_rotation(log, 3)
        fresh_start(log, text)
    assert contents(log) == ["d", "e", "f"]  # never more than 3 files, even after a fresh start
    keep_rotation(log, 3)
    assert contents(log) == ["e", "f"]  # the written file is named, not read twice
    assert len([p for p in tmp_path.iterdir()]) == 3


def test_output_between_visits_keeps_only_the_newest_file(tmp_path):
    log = tmp_path / "ctr.log"
    log.write_text("a")
    keep_rotation(log, 5)
    fresh_start(log, "b")
    fresh_start(log, "c")  # nobody visited: "b" is gone, as under a runtime's own cap
    keep_rotation(log, 5)
    assert contents(log) == ["a", "c"]


def test_one_file_keeps_nothing_beside_and_an_empty_log_is_not_named(tmp_path):
    log = tmp_path / "ctr.log"
    log.write_text("")
    keep_rotation(log, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctr.log"]
    log.write_text("a")
    keep_rotation(log, 1)
    fresh_start(log, "b")
    keep_rotation(log, 1)
    assert contents(log) == ["b"]
    discard_rotations(log)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctr.log"]


def test_missing_log_is_no_error(tmp_path):
    keep_rotation(tmp_path / "ctr.log", 5)
    assert files_in_order(tmp_path / "ctr.log") == []


def test_log_max_files_defaults_to_the_kubelets_and_an_override_file_wins(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "config_dirs", lambda: [tmp_path])
    monkeypatch.delenv("CONTAINERS_CONF_OVERRIDE", raising=False)
    assert ContainersConf.load().log_max_files == 5
    (tmp_path / "containers.conf").write_text("[containers]\nlog_max_files = 3\nlog_size_max = 2048\n")
    override = tmp_path / "override.conf"
    override.write_text("[containers]\nlog_max_files = 2\n")
    monkeypatch.setenv("CONTAINERS_CONF_OVERRIDE", str(override))
    loaded = ContainersConf.load()
    assert (loaded.log_max_files, loaded.log_size_max) == (2, 2048)


def test_a_file_named_twice_is_read_once(tmp_path):
    log = tmp_path / "ctr.log"
    log.write_text("a")
    keep_rotation(log, 5)
    os.link(log, tmp_path / "ctr.log.2")  # a second visit at the same moment
    fresh_start(log, "b")
    assert contents(log) == ["a", "b"]

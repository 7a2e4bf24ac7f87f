"""system reset without root: which roots are refused, the confirmation, and removing a store's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import UserError
from kubeplay.net.nftables import foreign_chains
from kubeplay.system.reset import check_resettable, reset

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("root", ["/", "/tmp", "/var"])
def test_roots_that_are_more_than_a_store_are_refused(tmp_path, root):
    with pytest.raises(UserError) as caught:
        check_resettable(Settings(root=Path(root), runroot=tmp_path / "run"))
    assert "refusing to reset" in caught.value.message


def test_a_missing_store_resets_to_nothing(tmp_path):
    report = reset(Settings(root=tmp_path / "never" / "root", runroot=tmp_path / "never" / "run"))
    assert report.pods == report.networks == report.directories == report.problems == []
    assert report.namespaces == report.mounts == []
    assert not (tmp_path / "never").exists()


def test_reset_removes_an_empty_store_and_its_files(tmp_path):
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    (settings.root / "blobs").mkdir()
    (settings.root / "blobs" / "data").write_text("x")
    report = reset(settings)
    assert report.problems == [] and report.mounts == []
    assert sorted(report.directories) == sorted([str(settings.root), str(settings.runroot)])
    assert not settings.root.exists() and not settings.runroot.exists()


def test_foreign_chains_are_pod_and_network_chains_only():
    objects = [{"table": {"name": "kubeplay"}}, {"chain": {"name": "hostports"}}, {"chain": {"name": "outbound"}},
               {"chain": {"name": "prerouting"}}, {"chain": {"name": "pod-web"}}, {"chain": {"name": "net-kp3"}},
               {"rule": {"chain": "outbound", "handle": 4}}]
    assert foreign_chains(objects) == ["pod-web", "net-kp3"]
    assert foreign_chains(objects[:4]) == []


def _cli(tmp_path: Path, *args: str, answer: str | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "kubeplay", "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
            "system", "reset", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(argv, input=answer, capture_output=True, text=True, timeout=60, env=env, cwd=REPO)


def test_reset_asks_and_a_no_keeps_everything(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "keep").write_text("x")
    for answer in ("n\n", ""):
        done = _cli(tmp_path, answer=answer)
        assert done.returncode == 1
        assert "Continue?" in done.stderr
        assert "error: reset cancelled; nothing was removed" in done.stderr.splitlines()
        assert (tmp_path / "root" / "keep").exists()


def test_reset_with_yes_or_force_removes_the_store(tmp_path):
    (tmp_path / "root").mkdir()
    done = _cli(tmp_path, answer="y\n")
    assert done.returncode == 0, done.stderr
    assert f"removed directory {tmp_path / 'root'}" in done.stdout
    assert not (tmp_path / "root").exists()
    (tmp_path / "root").mkdir()
    forced = _cli(tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Continue?" not in forced.stderr
    assert not (tmp_path / "root").exists() and not (tmp_path / "run").exists()


def test_the_cli_refuses_a_root_of_slash_before_asking(tmp_path):
    argv = [sys.executable, "-m", "kubeplay", "--root", "/", "--runroot", str(tmp_path / "run"), "system", "reset"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, input="y\n")
    assert done.returncode == 1
    assert "refusing to reset /" in done.stderr
    assert "Continue?" not in done.stderr

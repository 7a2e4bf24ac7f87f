"""The pause-process bookkeeping and the checks made before a namespace is created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeplay.errors import HostError
from kubeplay.rootless import cgroups, overlay, userns


def test_runtime_dir_of_another_uid_is_refused_with_the_fixes(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    other = os.stat(tmp_path).st_uid + 4242
    with pytest.raises(HostError) as caught:
        userns.check_runtime_dir(other)
    assert "XDG_RUNTIME_DIR" in caught.value.message and str(tmp_path) in caught.value.message
    assert "--runroot" in caught.value.hint and f"/tmp/kubeplay-{other}" in caught.value.hint


def test_missing_runtime_dir_is_refused(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "gone"))
    with pytest.raises(HostError, match="does not exist"):
        userns.check_runtime_dir(os.getuid())


def test_own_runtime_dir_and_unset_pass(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    userns.check_runtime_dir(os.stat(tmp_path).st_uid)
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    userns.check_runtime_dir(12345)


def test_pause_pidfile_must_match_a_live_process_and_its_start_time(tmp_path: Path) -> None:
    assert userns.live_pause(tmp_path) is None
    pidfile = userns.pause_pidfile(tmp_path)
    started = userns._start_time(os.getpid())
    pidfile.write_text(f"{os.getpid()} {started}\n")
    assert userns.live_pause(tmp_path) == os.getpid()
    pidfile.write_text(f"{os.getpid()} 1\n")  # a reused pid: other start time
    assert userns.live_pause(tmp_path) is None
    pidfile.write_text("garbage")
    assert userns.live_pause(tmp_path) is None


def test_missing_newuidmap_names_the_package(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HostError) as caught:
        userns.find_helper("newuidmap")
    assert "newuidmap" in caught.value.message and "apt-get install uidmap" in caught.value.hint


def test_native_overlay_options_use_user_xattrs() -> None:
    native = overlay.overlay_options([Path("/a"), Path("/b")], Path("/u"), Path("/w"), native=True)
    assert native == "lowerdir=/a:/b,upperdir=/u,workdir=/w,userxattr"
    assert not overlay.overlay_options([Path("/a")], Path("/u"), Path("/w"), native=False).endswith("userxattr")


def test_cgroup_delegation_needs_v2_a_writable_own_cgroup_and_controllers(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    proc = tmp_path / "proc-cgroup"
    root.mkdir()
    assert "not mounted" in cgroups.delegation(root, proc)[1]
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    mine = root / "user.slice" / "u"
    mine.mkdir(parents=True)
    proc.write_text("0::/user.slice/u\n")
    (mine / "cgroup.subtree_control").write_text("cpu\n")
    path, why = cgroups.delegation(root, proc)
    assert path == "" and "memory" in why and "pids" in why
    (mine / "cgroup.subtree_control").write_text("cpu memory pids\n")
    assert cgroups.delegation(root, proc)[0] == "/user.slice/u"

"""`kubeplay system check` as a user runs it, compared with what the host really offers."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.runtime.mountroot import exec_enters_host_root
from kubeplay.runtime.probe import probe_all
from tests.support.cli import mount_run_tmpfs

pytestmark = pytest.mark.root


def checks_by_name(kp) -> tuple[int, dict[str, dict]]:
    result = kp("system", "check", "--format", "json", timeout=60)
    listed = json.loads(result.stdout)
    return result.returncode, {item["name"]: item for item in listed}


def test_exit_code_follows_the_required_checks(kp) -> None:
    code, checks = checks_by_name(kp)
    failed_required = [c for c in checks.values() if c["required"] and not c["ok"]]
    assert code == (1 if failed_required else 0)
    for item in checks.values():
        assert item["detail"]
        if not item["ok"]:
            assert item["fix"], f"{item['name']} failed without a fix"


def test_runtime_line_names_the_working_runtime_and_why_others_fail(kp) -> None:
    _, checks = checks_by_name(kp)
    results = probe_all(Settings(root=kp.root, runroot=kp.runroot))
    runtime = checks["runtime"]
    working = [r for r in results if r.ok]
    assert runtime["ok"] == bool(working)
    if working:
        assert runtime["detail"].startswith(f"using {working[0].name}")
    for failed in (r for r in results if not r.ok):
        assert f"{failed.name}" in runtime["detail"] and failed.error in runtime["detail"]


def test_host_facts_match_the_report(kp) -> None:
    _, checks = checks_by_name(kp)
    mode = os.stat("/dev/net/tun").st_mode & 0o777
    tun = checks["/dev/net/tun"]
    assert f"{mode:04o}" in tun["detail"]
    assert tun["ok"] == (mode & 0o006 == 0o006)
    if not tun["ok"]:
        assert "chmod 0666 /dev/net/tun" in tun["fix"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert f"nofile {soft}/{hard}" in checks["rlimits"]["detail"]
    assert checks["overlayfs"]["ok"], checks["overlayfs"]
    assert checks["conmon"]["ok"] and "conmon version" in checks["conmon"]["detail"]
    bridged = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    on = bridged.exists() and bridged.read_text().strip() == "1"
    assert checks["bridge netfilter"]["ok"] == on
    assert checks["exec"]["ok"] == (not exec_enters_host_root())  # refused inside a chroot only


def test_check_leaves_nothing_behind(kp) -> None:
    kp("system", "check", timeout=60)
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(kp.runroot) not in mounts and str(kp.root) not in mounts
    for directory in (kp.root, kp.runroot):
        leftovers = [p.name for p in directory.iterdir()] if directory.exists() else []
        assert not [name for name in leftovers if name.startswith(("probe-", "overlay-check-"))], leftovers


def test_a_run_root_on_a_nosuid_nodev_noexec_tmpfs_passes(kp) -> None:
    assert {"nosuid", "nodev", "noexec"} <= mount_options(kp.run_mount)
    code, checks = checks_by_name(kp)
    assert checks["run root"]["ok"], checks["run root"]
    assert checks["runtime"]["ok"], checks["runtime"]  # the probe container runs with such a run root


def test_a_graph_root_on_a_noexec_mount_is_named_with_the_fix(kp) -> None:
    graph = kp.base / "noexec-graph"
    mount_run_tmpfs(graph, "noexec")
    try:
        result = kp("--root", str(graph / "kp"), "system", "check", "--format", "json", timeout=60)
        checks = {item["name"]: item for item in json.loads(result.stdout)}
        assert result.returncode == 1
        item = checks["graph root"]
        assert not item["ok"] and item["required"]
        assert "noexec" in item["detail"] and str(graph) in item["detail"]
        assert "--root" in item["fix"]
    finally:
        subprocess.run(["umount", "-l", str(graph)], check=False, timeout=30)


def mount_options(directory: Path) -> set[str]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(directory.resolve()):
            return set(fields[5].split(","))
    return set()


def test_table_output(kp) -> None:
    result = kp("system", "check", timeout=60)
    assert "runtime" in result.stdout and "fix:" not in result.stdout.split("\n")[0]
    last = result.stdout.strip().splitlines()[-1]
    assert ("required check(s) failed" in last) == (result.returncode == 1)

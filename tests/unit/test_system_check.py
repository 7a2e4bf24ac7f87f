"""Rendering of `kubeplay system check` and its exit code, with checks supplied by the test."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubeplay.cli import system as system_cli
from kubeplay.config import Settings
from kubeplay.system import check as checks_module
from kubeplay.system.check import Check, _guarded, check_rlimits, required_failures

PASSING = [
    Check("runtime", True, True, "using runc (crun fails: cgroups in hybrid mode not supported)"),
    Check("/dev/net/tun", False, False, "/dev/net/tun mode 0600", "chmod 0666 /dev/net/tun"),
]
FAILING = PASSING + [Check("conmon", False, True, "conmon not found", "apt-get install conmon")]


def test_table_marks_each_check_and_shows_fixes_only_for_failures() -> None:
    text = system_cli.render_table(FAILING)
    lines = text.splitlines()
    assert lines[0].startswith("✓ runtime")
    assert lines[1].startswith("✗ /dev/net/tun") and lines[1].endswith("(optional)")
    assert lines[2].strip() == "fix: chmod 0666 /dev/net/tun"
    assert lines[3].startswith("✗ conmon")
    assert "fix: apt-get install conmon" in lines[4]
    assert text.count("fix:") == 2
    assert lines[-1] == "1 required check(s) failed: conmon"


def test_table_details_line_up() -> None:
    lines = system_cli.render_table(PASSING).splitlines()
    assert lines[0].index("using") == lines[1].index("/dev/net/tun mode")


def test_plain_marks_for_an_ascii_stream() -> None:
    class Ascii:
        encoding = "ascii"

    marks = system_cli._marks(Ascii())
    assert marks == ("ok", "FAIL")
    assert system_cli.render_table(PASSING, marks).startswith("ok   runtime")


def test_required_failures_ignore_optional_ones() -> None:
    assert [c.name for c in required_failures(FAILING)] == ["conmon"]
    assert required_failures(PASSING) == []


@pytest.mark.parametrize(("checks", "code"), [(PASSING, 0), (FAILING, 1)])
def test_cli_exit_code_follows_required_checks(monkeypatch, tmp_path: Path, checks, code) -> None:
    monkeypatch.setattr(checks_module, "run_checks", lambda settings: checks)
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    result = CliRunner().invoke(system_cli.system, ["check", "--format", "json"], obj=settings)
    assert result.exit_code == code
    assert json.loads(result.output) == [
        {"name": c.name, "ok": c.ok, "required": c.required, "detail": c.detail, "fix": c.fix} for c in checks
    ]


def test_a_crashing_check_becomes_a_failed_finding(tmp_path: Path) -> None:
    def broken(settings: Settings) -> Check:
        raise FileNotFoundError("/proc/nothing")

    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    [found] = _guarded("broken", broken, settings)
    assert not found.ok and not found.required
    assert "FileNotFoundError" in found.detail and "/proc/nothing" in found.detail


def test_rlimits_report_the_hosts_own_limits(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    found = check_rlimits(Settings(root=tmp_path / "root", runroot=tmp_path / "run"))
    shown = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    assert f"/{shown}" in found.detail
    assert "never asks" in found.detail and "hard limit" in found.detail

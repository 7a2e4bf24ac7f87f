"""tools/check_lock.py: the install stops when requirements.lock does not satisfy pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "check_lock.py"

PYPROJECT = """
[project]
name = "x"
dependencies = ["click>=8.1", "pyyaml>=6"]
[project.optional-dependencies]
test = ["pytest>=7"]
"""


def check(tmp_path: Path, lock_text: str | None, pyproject: str = PYPROJECT) -> subprocess.CompletedProcess:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    lock = tmp_path / "requirements.lock"
    if lock_text is not None:
        lock.write_text(lock_text)
    return subprocess.run([sys.executable, str(CHECK), str(tmp_path / "pyproject.toml"), str(lock)],
                          capture_output=True, text=True, timeout=60)


LOCK = "click==8.5.1 \\\n    --hash=sha256:00\nPyYAML==6.0.4 \\\n    --hash=sha256:11\npytest==9.2.0\n"


def test_a_lock_inside_every_range_passes(tmp_path):
    done = check(tmp_path, LOCK)
    assert done.returncode == 0, done.stderr


def test_a_pin_outside_its_range_is_named_with_the_refresh_command(tmp_path):
    done = check(tmp_path, LOCK, PYPROJECT.replace("click>=8.1", "click>=9"))
    assert done.returncode == 1
    assert "click==8.5.1" in done.stderr and ">=9" in done.stderr
    assert "make lock" in done.stderr


def test_a_declared_package_missing_from_the_lock_is_named(tmp_path):
    done = check(tmp_path, LOCK.replace("pytest==9.2.0\n", ""))
    assert done.returncode == 1
    assert "pytest is declared in pyproject.toml but not pinned" in done.stderr


def test_a_missing_lock_names_the_command_that_writes_it(tmp_path):
    done = check(tmp_path, None)
    assert done.returncode == 1
    assert "is missing" in done.stderr and "make lock" in done.stderr


def test_the_committed_lock_matches_the_committed_pyproject():
    done = subprocess.run([sys.executable, str(CHECK), str(ROOT / "pyproject.toml"), str(ROOT / "requirements.lock")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

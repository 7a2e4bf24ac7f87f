"""Start-up cost: the everyday commands must not load the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("kubernetes", "pyroute2", "pydantic", "http.client", "zstandard")

PROBE = """
import json, sys
from kubeplay.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m in {heavy!r})), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["images"], ["pods"], ["--help"]])
def test_everyday_commands_do_not_import_heavy_libraries(argv, tmp_path):
    args = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")] + argv if argv != ["--version"] else argv
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=args, heavy=HEAVY)],
                          capture_output=True, text=True, timeout=60)
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert loaded == [], f"kubeplay {' '.join(argv)} imported {loaded}"


SLOW_STDLIB = ("typing", "inspect", "shutil", "click", "yaml", "urllib", "ipaddress", "copy", "contextlib", "threading",
               "datetime", "sqlite3", "math", "binascii", "warnings",
               "base64")


def test_generate_loads_neither_click_nor_yaml_nor_slow_stdlib_modules(tmp_path):
    """The fast form of generate (names only) writes YAML itself and reads plans without typing."""
    args = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), "generate", "no-such-pod"]
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=args, heavy=HEAVY + SLOW_STDLIB)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert "no-such-pod" in done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []

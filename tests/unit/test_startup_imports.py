"""The everyday commands load none of the large libraries that only some commands need."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("kubernetes", "pyroute2", "pydantic", "zstandard")

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

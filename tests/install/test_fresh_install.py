"""The README's promise: on a fresh Debian 12 machine with git and make, as root, `make demo` installs
what it needs and shows the demo pod working, and the tests then run with what it installed.

Runs tests/install/fresh_root.sh: a clean debootstrap root, a clone of HEAD, /run a nosuid,nodev tmpfs
as on systemd hosts. The suite is not run a second time inside (the suite around this test runs it,
from a venv made from the same lock): the unit tests that need the test extra (pytest, the
`kubernetes` models the schema and generate are checked against) and the command line show the
installed virtualenv is complete. Takes a minute or two, most of it apt and pip downloads.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.fresh_install]

SCRIPT = Path(__file__).with_name("fresh_root.sh")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 1500
# make demo leaves its pod running; its bridge, nft table and cgroups are on the host, so they go
# before the root is left (processes and mounts end with the root's namespaces anyway)
INSTALLED_CHECKS = "tests/unit/test_schema_generated.py tests/unit/test_generate_conform.py tests/unit/test_cli_help.py"
COMMAND = (f"make demo && .venv/bin/pytest -q {INSTALLED_CHECKS}; status=$?; "
           ".venv/bin/kubeplay down manifests/demo.yaml; .venv/bin/kubeplay system reset --force; exit $status")


def host_state() -> set[str]:
    """The host's links and nft tables: the root shares them, so what it made there stays."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=30).stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=30).stdout
    return ({"link " + line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
            | {line.strip() for line in tables.splitlines() if line.strip()})


def test_make_demo_and_the_installed_tests_pass_in_a_fresh_debian_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mounts)")
    if not Path("/etc/debian_version").exists():
        pytest.skip("the fresh root is built with debootstrap from a Debian host's mirror")
    if subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                      capture_output=True, text=True, timeout=30).stdout.strip():
        print("note: uncommitted changes are not in the clone that is tested")
    before = host_state()
    done = subprocess.run([str(SCRIPT), COMMAND], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "GET http://127.0.0.1:18080/ -> hello from demo" in output, output[-6000:]
    summary = re.search(r"^=*\s*(\d+ passed.*) in [\d.]+s", output, re.MULTILINE)
    assert summary and "failed" not in summary.group(1) and "error" not in summary.group(1), output[-3000:]
    # only what appeared counts: other work on the host may remove its own things meanwhile
    assert host_state() - before == set(), "the fresh root left links or nft tables on the host"

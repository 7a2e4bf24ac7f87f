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



PULLED = """
from pathlib import Path
from kubeplay.model.image import ImageConfig, ImageRecord
from kubeplay.store.db import open_database
from kubeplay.store.images import ImageIndex
ImageIndex(open_database(Path({root!r}))).add(
    ImageRecord(id="sha256:" + "a" * 64, names=("localhost/x:1",), manifest_digest="sha256:" + "b" * 64,
                diff_ids=(), config=ImageConfig(cmd=("sh",)), size=1), [])
"""

PLAYED = """
import sys
from pathlib import Path
from kubeplay.model.plan import ContainerPlan, PodPlan
from kubeplay.model.record import ContainerRole
from kubeplay.store.db import open_database
from kubeplay.store.images import ImageIndex
from kubeplay.store.pods import PodStore
db = open_database(Path({root!r}))
image = ImageIndex(db).get_by_name("localhost/x:1")
container = ContainerPlan(name="c", image="localhost/x:1")
store = PodStore(db)
store.add_pod("0" * 32, PodPlan(name="p", containers=(container,)))
store.add_container("1" * 32, "p", "c", ContainerRole.MEMBER, 0, image.id, container)
print(sorted(m for m in sys.modules if m.split(".")[0] == "pydantic"))
"""


def test_the_store_steps_of_making_a_pod_do_not_import_pydantic(tmp_path):
    """play reads the images it runs and writes each pod's and container's plan: neither loads
    pydantic, whose import and schemas would cost more than the rest of those steps together."""
    for code in (PULLED, PLAYED):
        done = subprocess.run([sys.executable, "-c", code.format(root=str(tmp_path))],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

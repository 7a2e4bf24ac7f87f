"""dataclasses and pathlib come without the modules they rarely use, and those still work when used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

PROBE = textwrap.dedent("""
    import json, sys
    from kubeplay.lean_imports import import_dataclasses, import_pathlib
    import_pathlib()
    import_dataclasses()
    deferred = ("inspect", "copy", "urllib.parse", "ntpath", "ipaddress", "weakref", "warnings", "fnmatch")
    before = [name for name in deferred if name in sys.modules]
    import dataclasses, pathlib

    @dataclasses.dataclass
    class Node:
        '''A tree node.'''
        children: list

    tree = Node([Node([1, 2])])
    as_dict = dataclasses.asdict(tree)  # deep-copies through copy
    as_dict["children"][0]["children"].append(3)
    result = {
        "before": before,
        "uri": pathlib.Path("/tmp/a b").as_uri(),
        "windows": list(pathlib.PureWindowsPath("C:/x/y").parts),
        "windows_join": str(pathlib.PureWindowsPath("C:/x") / "y"),
        "match": pathlib.PurePath("a/b.py").match("*.py"),
        "copied": tree.children[0].children == [1, 2],
        "real_copy": type(sys.modules["copy"]).__name__,
        "real_parse": type(sys.modules["urllib.parse"]).__name__,
    }
    import urllib.parse
    result["parse"] = urllib.parse.quote("a b")
    print(json.dumps(result))
""")


def test_the_deferred_modules_load_on_first_use_and_are_the_real_ones():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=True)
    result = json.loads(done.stdout)
    assert result == {
        "before": [], "uri": "file:///tmp/a%20b", "windows": ["C:\\", "x", "y"], "windows_join": "C:\\x\\y", "match": True,
        "copied": True, "real_copy": "module", "real_parse": "module", "parse": "a%20b",
    }


def test_a_module_already_imported_whole_is_left_as_it_is():
    probe = ("import sys, inspect\nfrom kubeplay.lean_imports import import_dataclasses\nimport_dataclasses()\n"
             "import dataclasses\nprint(dataclasses.inspect is inspect)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=True)
    assert done.stdout.strip() == "True"

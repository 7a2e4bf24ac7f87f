"""The click-free fast path: which argv it takes, which it leaves to the command tree, and that the
forms it takes really load no click."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kubeplay.cli.fast import parse_globals, plan
from tests.support.cli import kubeplay_modules_after


def test_parse_globals_reads_both_spellings_and_stops_at_the_command():
    options, rest = parse_globals(["--root", "/r", "--runroot=/rr", "--debug", "pods", "--root", "x"])
    assert options == {"root": "/r", "runroot": "/rr", "debug": True}
    assert rest == ["pods", "--root", "x"]


@pytest.mark.parametrize("argv", [["--root"], ["--root="], ["--runtime", ""]])
def test_parse_globals_refuses_a_missing_value(argv):
    assert parse_globals(argv) is None


@pytest.mark.parametrize("argv", [
    ["pods"], ["pods", "--format", "json"], ["pods", "--format=table"],
    ["play", "a.yaml"], ["play", "-q", "a.yaml", "b.yaml"], ["down", "a.yaml", "--quiet"],
])
def test_everyday_forms_take_the_fast_path(argv, tmp_path):
    assert plan(["--root", str(tmp_path / "r"), "--runroot", str(tmp_path / "rr"), *argv]) is not None


@pytest.mark.parametrize("argv", [
    [], ["--version"], ["pods", "--help"], ["pods", "--format", "yaml"], ["pods", "extra"],
    ["play"], ["play", "-"], ["play", "--replace", "a.yaml"], ["play", "a.yaml", "--dry-run"],
    ["down", "--volumes", "a.yaml"], ["ps"], ["--log-level", "loud", "pods"], ["--bogus", "pods"],
])
def test_anything_else_goes_to_the_command_tree(argv, tmp_path):
    assert plan(["--root", str(tmp_path / "r"), "--runroot", str(tmp_path / "rr"), *argv]) is None


PROBE = """
import json, sys
from kubeplay.cli.main import main
try:
    main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"click": "click" in sys.modules, "code": code}}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["pods"], ["play", "{missing}"], ["down", "-q", "{missing}"]])
def test_fast_forms_load_no_click_and_keep_the_error_boundary(argv, tmp_path):
    args = ["--root", str(tmp_path / "r"), "--runroot", str(tmp_path / "rr")]
    args += [arg.format(missing=tmp_path / "missing.yaml") for arg in argv]
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=args)], capture_output=True, text=True,
                          timeout=60)
    outcome = json.loads(done.stderr.strip().splitlines()[-1])
    assert outcome["click"] is False
    if argv[0] == "pods":
        assert outcome["code"] == 0 and "NAME" in done.stdout
    else:  # a missing manifest: the one-paragraph error, exit 1, no traceback
        assert outcome["code"] == 1
        assert "error:" in done.stderr and "missing.yaml" in done.stderr and "Traceback" not in done.stderr


def test_pods_on_a_store_without_pods_reads_only_the_store_file_and_makes_nothing(tmp_path):
    root = tmp_path / "never-made"
    stdout, modules = kubeplay_modules_after(["--root", str(root), "pods"])
    assert stdout.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "kubeplay.config" not in modules and "kubeplay.pods.engine" not in modules
    assert not root.exists()  # a listing makes no store
    stdout, _ = kubeplay_modules_after(["--root", str(root), "pods", "--format", "json"])
    assert json.loads(stdout) == []


def test_pods_with_a_pod_in_the_store_takes_the_full_listing(tmp_path):
    from kubeplay.store.db import open_database
    from kubeplay.store.peek import holds_no_pods

    (tmp_path / "root").mkdir()
    database = open_database(tmp_path / "root")
    with database.transaction() as conn:
        conn.execute("INSERT INTO pods (name, id, plan, created_at) VALUES ('p', 'x', '{}', 0)")
    database.close()
    assert not holds_no_pods(str(tmp_path / "root" / "kubeplay.db"))
    _, modules = kubeplay_modules_after(["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), "pods"])
    assert "kubeplay.pods.engine" in modules


def test_an_odd_store_is_left_to_the_full_listing(tmp_path):
    from kubeplay.store.peek import holds_no_pods

    (tmp_path / "file").write_text("not a directory")
    assert not holds_no_pods(str(tmp_path / "file" / "kubeplay.db"))
    (tmp_path / "kubeplay.db").write_text("not sqlite")
    assert not holds_no_pods(str(tmp_path / "kubeplay.db"))
    assert holds_no_pods(str(tmp_path / "missing" / "kubeplay.db"))

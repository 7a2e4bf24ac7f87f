"""The program around the command tree: version, exit codes and output of the entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
from kubeplay.cli.main import main
try:
    main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""


def _probe(argv: list[str]) -> tuple[int, str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], done.stdout, report["modules"]


def test_version_is_answered():
    code, out, _ = _probe(["--version"])
    assert (code, out) == (0, "kubeplay version 0.1.0\n")


def test_version_after_global_options_still_answers_through_click(tmp_path):
    code, out, modules = _probe(["--root", str(tmp_path), "--version"])
    assert (code, out) == (0, "kubeplay version 0.1.0\n")
    assert "click" in modules


def test_cli_group_is_reachable_from_main_for_click_runners():
    from click.testing import CliRunner

    from kubeplay.cli.main import cli

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "pods" in result.output and "generate" in result.output


def test_the_program_keeps_exit_codes_and_output():
    version = subprocess.run([sys.executable, "-m", "kubeplay", "--version"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert (version.returncode, version.stdout) == (0, "kubeplay version 0.1.0\n")
    unknown = subprocess.run([sys.executable, "-m", "kubeplay", "no-such-command"], capture_output=True,
                             text=True, timeout=60, check=False)
    assert unknown.returncode == 1 and "No such command 'no-such-command'" in unknown.stderr



def _kubeplay(tmp_path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    roots = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")]
    return subprocess.run([sys.executable, "-m", "kubeplay", *roots, *argv], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, **env})


def test_debug_among_the_global_options_shows_the_traceback(tmp_path):
    plain = _kubeplay(tmp_path, "generate", "no-such-pod", KUBEPLAY_DEBUG="")
    assert plain.returncode == 1 and 'no pod named "no-such-pod"' in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = subprocess.run([sys.executable, "-m", "kubeplay", "--debug", "--root", str(tmp_path / "root"),
                            "--runroot", str(tmp_path / "run"), "generate", "no-such-pod"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    from_env = _kubeplay(tmp_path, "generate", "no-such-pod", KUBEPLAY_DEBUG="1")
    assert "Traceback" in from_env.stderr


def test_debug_after_the_command_belongs_to_the_command(tmp_path):
    """`exec POD -- sh --debug`: the flag is the container command's, not kubeplay's."""
    done = _kubeplay(tmp_path, "exec", "no-such-pod", "--", "sh", "--debug", KUBEPLAY_DEBUG="")
    assert done.returncode == 1 and 'no pod named "no-such-pod"' in done.stderr
    assert "Traceback" not in done.stderr

"""Start-up cost: what the cheapest commands load, and that the fast paths answer as click would."""

from __future__ import annotations

import json
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


def test_version_is_answered_before_click_and_the_command_tree_load():
    code, out, modules = _probe(["--version"])
    assert (code, out) == (0, "kubeplay version 0.1.0\n")
    loaded = [m for m in modules if m.split(".")[0] in ("click", "logging", "kubeplay")]
    assert loaded == ["kubeplay", "kubeplay.cli", "kubeplay.cli.main"]


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
    assert unknown.returncode == 2 and "No such command 'no-such-command'" in unknown.stderr


EXIT_NOW = """
import atexit, sys, threading, time
from kubeplay.cli.main import exit_now

def late_write():
    time.sleep(0.2)
    print("thread finished")

threading.Thread(target=late_write).start()
from concurrent.futures import ThreadPoolExecutor
ThreadPoolExecutor(1).submit(time.sleep, 0)  # never shut down: its workers end through threading's exit hook
atexit.register(lambda: print("atexit ran"))
sys.stdout.write("buffered, not flushed")
exit_now(3)
"""


def test_exit_without_teardown_still_waits_for_threads_runs_atexit_and_flushes():
    done = subprocess.run([sys.executable, "-c", EXIT_NOW], capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 3
    assert done.stdout == "buffered, not flushedthread finished\natexit ran\n"


GC_PROBE = """
import gc, sys
from kubeplay.cli import main
main.exit_now = lambda code: print(gc.get_threshold()[0], code)
sys.argv = ["kubeplay", "--version"]
main.run()
"""


def test_the_program_collects_cycles_less_often_while_it_loads():
    done = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == "50000 0"

"""The probe state machine (kubeplay.controllers.probing) against the kubelet's rules."""

from __future__ import annotations

import pytest

from kubeplay.controllers.probing import (
    HELD,
    HOOKING,
    UP,
    ContainerProbes,
    Event,
    Kill,
    Ready,
    RunPostStart,
)


def timing(**changes) -> dict:
    values = {"initial_delay": 0, "period": 10, "timeout": 1, "success_threshold": 1, "failure_threshold": 3,
              "grace": None}
    values.update(changes)
    return values


def kinds(actions) -> list[str]:
    return [type(action).__name__ for action in actions]


def test_readiness_starts_false_and_turns_true_on_the_first_success():
    container = ContainerProbes("app", {"readiness": timing()}, post_start=False)
    assert container.instance_started(100.0) == [Ready(False)]
    [probe] = container.due(100.0)
    probe.begin(100.0)
    assert container.probe_finished(probe, True, "") == [Ready(True)]
    assert container.ready


def test_readiness_needs_failure_threshold_failures_and_success_threshold_successes():
    container = ContainerProbes("app", {"readiness": timing(failure_threshold=2, success_threshold=2)}, False)
    container.instance_started(0.0)
    probe = container.probes["readiness"]
    results = [container.probe_finished(probe, ok, "boom") for ok in (True, True, False, False, True, True)]
    assert [[a for a in r if isinstance(a, Ready)] for r in results] == [
        [], [Ready(True)], [], [Ready(False)], [], [Ready(True)]]
    events = [a for a in results[2] + results[3] if isinstance(a, Event)]
    assert [e.message for e in events] == ["Readiness probe failed: boom"] * 2


def test_a_probe_waits_for_its_initial_delay_then_runs_every_period():
    container = ContainerProbes("app", {"liveness": timing(initial_delay=5, period=2)}, False)
    container.instance_started(100.0)
    assert container.due(104.9) == []
    [probe] = container.due(105.0)
    probe.begin(105.0)
    assert container.due(106.0) == []  # busy, and not due before 107
    container.probe_finished(probe, True, "")
    assert container.due(106.9) == [] and container.due(107.0) == [probe]
    assert container.next_due() == 107.0


def test_liveness_failures_past_the_threshold_kill_once_and_hold_the_probes():
    container = ContainerProbes("app", {"liveness": timing(failure_threshold=2, grace=7)}, False)
    container.instance_started(0.0)
    probe = container.probes["liveness"]
    assert kinds(container.probe_finished(probe, False, "HTTP probe failed with statuscode: 404")) == ["Event"]
    actions = container.probe_finished(probe, False, "HTTP probe failed with statuscode: 404")
    assert kinds(actions) == ["Event", "Event", "Kill"]
    assert actions[0].message == "Liveness probe failed: HTTP probe failed with statuscode: 404"
    assert actions[1].reason == "Killing" and "failed liveness probe, will be restarted" in actions[1].message
    assert actions[2].grace == 7
    assert container.state == HELD and container.due(1000.0) == []
    # the restarted instance starts over
    container.instance_started(50.0)
    assert container.state == UP and container.due(50.0) == [probe]


def test_a_startup_probe_holds_liveness_and_readiness_until_it_succeeds():
    container = ContainerProbes("app", {"startup": timing(period=1), "liveness": timing(),
                                        "readiness": timing()}, False)
    container.instance_started(0.0)
    assert [p.kind for p in container.due(0.0)] == ["startup"]
    startup = container.probes["startup"]
    assert kinds(container.probe_finished(startup, False, "not yet")) == ["Event"]
    assert container.probe_finished(startup, True, "") == []  # started; readiness has not passed yet
    assert sorted(p.kind for p in container.due(0.0)) == ["liveness", "readiness"]
    assert container.probe_finished(container.probes["readiness"], True, "") == [Ready(True)]


def test_a_startup_probe_failing_past_its_threshold_restarts_like_liveness():
    container = ContainerProbes("app", {"startup": timing(failure_threshold=2)}, False)
    container.instance_started(0.0)
    startup = container.probes["startup"]
    container.probe_finished(startup, False, "refused")
    actions = container.probe_finished(startup, False, "refused")
    assert isinstance(actions[-1], Kill) and "failed startup probe" in actions[-2].message


def test_post_start_comes_first_and_a_failing_one_kills():
    container = ContainerProbes("app", {"liveness": timing()}, post_start=True)
    assert kinds(container.instance_started(0.0)) == ["RunPostStart", "Ready"]
    assert container.state == HOOKING and container.due(100.0) == []
    assert container.post_start_finished(True, "") == [Ready(True)]
    assert container.state == UP
    container.instance_started(10.0)
    actions = container.post_start_finished(False, "hook exited with 1", grace=3)
    assert kinds(actions) == ["Event", "Kill"] and actions[0].reason == "FailedPostStartHook"
    assert container.state == HELD


def test_a_post_start_hook_that_already_ran_is_not_run_again():
    container = ContainerProbes("app", {}, post_start=True)
    actions = container.instance_started(0.0, post_start_done=True)
    assert not any(isinstance(a, RunPostStart) for a in actions) and actions == [Ready(True)]


def test_results_for_an_instance_that_ended_are_dropped():
    container = ContainerProbes("app", {"liveness": timing(failure_threshold=1)}, False)
    container.instance_started(0.0)
    probe = container.probes["liveness"]
    probe.begin(0.0)
    container.instance_ended()
    assert container.probe_finished(probe, False, "gone") == [] and not probe.busy


def test_the_monitor_process_imports_only_what_the_interpreter_has_built_in():
    """It lives as long as its pod: every module it loads is memory for that long. Its children
    import the rest (kubeplay.controllers.tasks)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    # the names are taken before json, the probe's own import, is loaded
    probe = "import sys, kubeplay.controllers.monitor; n = sorted(sys.modules); import json; print(json.dumps(n))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    loaded = set(json.loads(done.stdout))
    heavy = {"click", "kubernetes", "pydantic", "yaml", "sqlite3", "enum", "dataclasses", "pathlib", "subprocess",
             "signal", "kubeplay.controllers.tasks", "kubeplay.pods", "kubeplay.store", "kubeplay.config"}
    assert loaded & heavy == set()
    # these have their bytecode cached before the monitor starts: it then compiles nothing itself
    from kubeplay.controllers.launch import MONITOR_IMPORTS

    assert {name for name in loaded if name.startswith("kubeplay")} == set(MONITOR_IMPORTS)


def test_the_monitor_modules_bytecode_is_cached_even_where_writing_bytecode_is_off(tmp_path):
    """PYTHONDONTWRITEBYTECODE stops imports writing it, not the launcher: the monitor would
    otherwise compile its modules itself, and keep the compiler's memory for its whole life."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    probe = ("import importlib.util, json; from kubeplay.controllers.launch import MONITOR_IMPORTS, "
             "compile_monitor_modules; compile_monitor_modules(); print(json.dumps("
             "[importlib.util.cache_from_source(importlib.util.find_spec(n).origin) for n in MONITOR_IMPORTS]))")
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPYCACHEPREFIX": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env,
                          check=True)
    cached = json.loads(done.stdout)
    assert len(cached) == 4
    assert all(path.startswith(str(tmp_path)) and Path(path).stat().st_size > 0 for path in cached)


def test_one_monitor_start_takes_several_pods_only_when_they_leave_their_caller():
    from kubeplay.controllers.monitor import parse_argv

    roots = ["--root", "/r", "--runroot", "/rr"]
    assert parse_argv([*roots, "--detach", "a", "b"]) == ({"root": "/r", "runroot": "/rr"}, True, ["a", "b"])
    assert parse_argv([*roots, "a"]) == ({"root": "/r", "runroot": "/rr"}, False, ["a"])
    for wrong in ([*roots, "a", "b"], [*roots, "--detach"], ["--root", "/r", "--detach", "a"]):
        with pytest.raises(ValueError):
            parse_argv(wrong)

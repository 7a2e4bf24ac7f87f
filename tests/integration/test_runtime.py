"""The runtime driver against the real runc/crun and conmon: probe, create, start, exec, exit, delete."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import RuntimeFailure
from kubeplay.runtime.classify import ExecutableNotFound
from kubeplay.runtime.conmon import ConmonSpec, conmon_pid, create_container, read_exit_code, stop_conmon
from kubeplay.runtime.oci_runtime import OciRuntime
from kubeplay.runtime.probe import detect_runtime, probe_all, probe_spec
from tests.support.cli import mount_run_tmpfs, skip_inside_a_chroot, unmount_below

pytestmark = pytest.mark.root


@pytest.fixture
def settings():
    base = Path(tempfile.mkdtemp(prefix="kp-rt-", dir="/tmp"))
    mount_run_tmpfs(base / "run")  # as systemd's /run: nosuid,nodev,noexec
    yield Settings(root=base / "root", runroot=base / "run" / "kubeplay")
    unmount_below(base)
    shutil.rmtree(base, ignore_errors=True)


def test_detect_picks_the_first_runtime_whose_probe_passes(settings: Settings) -> None:
    results = probe_all(settings)
    working = [r for r in results if r.ok]
    assert working, f"no runtime works here: {results}"
    for failed in (r for r in results if not r.ok):
        assert failed.error, f"{failed.name} failed without a reason"
    chosen = detect_runtime(settings)
    assert chosen.path == working[0].path and chosen.name == working[0].name
    # a runtime that failed its probe is never picked
    assert chosen.path not in {r.path for r in results if not r.ok}
    cache = json.loads((settings.runroot / "runtime.json").read_text())
    assert cache["chosen"]["path"] == chosen.path
    # a later detection reads the cache instead of probing again: mark the cached entry to see it used
    cache["chosen"]["version"] = "from-cache"
    (settings.runroot / "runtime.json").write_text(json.dumps(cache))
    assert detect_runtime(settings) == replace(chosen, version="from-cache")
    for directory in (settings.root, settings.runroot):
        assert not [p for p in directory.iterdir() if p.name.startswith("probe-")], "probe bundle left behind"


def test_a_failing_runtime_given_explicitly_is_an_error_naming_it(settings: Settings) -> None:
    failing = [r for r in probe_all(settings) if r.path and not r.ok]
    if not failing:
        pytest.skip("every installed runtime works here")
    with pytest.raises(RuntimeFailure) as caught:
        detect_runtime(replace(settings, runtime=failing[0].path))
    assert failing[0].name in caught.value.message
    assert failing[0].error in caught.value.message


@dataclass
class Lab:
    """One test's directories, runtime and the containers it made, all removed afterwards."""

    base: Path
    runtime: OciRuntime
    made: list[ConmonSpec]

    def bundle(self, args: list[str]) -> Path:
        bundle = self.base / f"bundle-{len(self.made)}-{uuid.uuid4().hex[:6]}"
        rootfs = bundle / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "proc").mkdir()
        shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
        spec = probe_spec(rootfs)
        spec["process"]["args"] = args
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    def spec(self, args: list[str], **extra) -> ConmonSpec:
        bundle = self.bundle(args)
        container_id = f"kp-test-{uuid.uuid4().hex[:10]}"
        made = ConmonSpec(
            container_id=container_id, name=f"c{len(self.made)}", bundle=bundle,
            runtime_path=self.runtime.info.path, runtime_root=self.runtime.state_root,
            pidfile=bundle / "pid", conmon_pidfile=bundle / "conmon.pid", exit_dir=self.base / "exits",
            persist_dir=bundle / "persist", log_path=bundle / "ctr.log", socket_dir=self.base / "sock", **extra,
        )
        self.made.append(made)
        return made


@pytest.fixture
def lab(settings: Settings):
    info = detect_runtime(settings)
    base = settings.root / "lab"  # its bundles hold plain rootfs dirs: executable, so not in the run root
    base.mkdir(parents=True)
    made: list[ConmonSpec] = []
    runtime = OciRuntime(info, settings.runroot / "state")
    yield Lab(base, runtime, made)
    for spec in made:
        runtime.delete(spec.container_id, force=True)
        stop_conmon(spec.conmon_pidfile)
    for spec in made:
        assert runtime.state(spec.container_id) is None
        assert conmon_pid(spec.conmon_pidfile) is None, "conmon left running"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_container_runs_under_conmon_and_reports_its_exit(lab: Lab) -> None:
    marker = lab.base / "marker"
    spec = lab.spec(["/bin/busybox", "sh", "-c", "echo hi; exit 3"],
                    exit_command=("/bin/sh", "-c", f'echo "$0" > {marker}', "exited-ok"))
    pid = create_container(spec)
    assert pid > 0
    state = lab.runtime.state(spec.container_id)
    assert state is not None and state["status"] == "created" and state["pid"] == pid
    lab.runtime.start(spec.container_id)
    assert wait_for(lambda: read_exit_code(spec.exit_dir, spec.container_id) is not None)
    assert read_exit_code(spec.exit_dir, spec.container_id) == 3
    assert wait_for(marker.exists) and wait_for(lambda: marker.read_text().strip() == "exited-ok")
    log_lines = spec.log_path.read_text().splitlines()
    # k8s-file: "<RFC3339 time> stdout F hi"
    assert any(line.split(" ", 3)[1:] == ["stdout", "F", "hi"] for line in log_lines), log_lines
    assert wait_for(lambda: conmon_pid(spec.conmon_pidfile) is None), "conmon outlived its container"
    assert lab.runtime.state(spec.container_id)["status"] == "stopped"
    lab.runtime.delete(spec.container_id)
    assert lab.runtime.state(spec.container_id) is None
    lab.runtime.delete(spec.container_id)  # already gone: not an error


def test_missing_executable_is_classified(lab: Lab) -> None:
    spec = lab.spec(["/bin/no-such-program"])
    with pytest.raises(ExecutableNotFound) as caught:
        # runc finds out at create, crun at start: either way the error is typed and names the program
        create_container(spec)
        lab.runtime.start(spec.container_id)
    assert caught.value.message == f'container "{spec.name}": executable "/bin/no-such-program" not found in the image'
    assert wait_for(lambda: conmon_pid(spec.conmon_pidfile) is None)


def test_exec_ps_kill_on_a_running_container(lab: Lab) -> None:
    skip_inside_a_chroot("kubeplay refuses exec there: the runtime's exec would enter the host's root")
    spec = lab.spec(["/bin/busybox", "sleep", "30"])
    pid = create_container(spec)
    lab.runtime.start(spec.container_id)
    assert lab.runtime.state(spec.container_id)["status"] == "running"
    assert pid in lab.runtime.ps(spec.container_id)
    code = lab.runtime.exec(spec.container_id, ["/bin/busybox", "sh", "-c", 'exit "$CODE"'],
                            tty=False, interactive=False, env={"CODE": "5"}, cwd="/", user=(0, 0), timeout=20)
    assert code == 5
    with pytest.raises(ExecutableNotFound):
        lab.runtime.exec(spec.container_id, ["nosuch"], tty=False, interactive=False, env=None, cwd=None,
                         user=None, timeout=20)
    lab.runtime.kill(spec.container_id, "KILL")
    assert wait_for(lambda: read_exit_code(spec.exit_dir, spec.container_id) is not None)
    assert read_exit_code(spec.exit_dir, spec.container_id) == 137
    lab.runtime.kill(spec.container_id, "KILL")  # already exited: not an error
    assert lab.runtime.state(spec.container_id)["status"] == "stopped"


def test_conmon_does_not_hold_the_callers_output_pipes(lab: Lab) -> None:
    import subprocess

    spec = lab.spec(["/bin/busybox", "sleep", "30"])
    script = (
        "import sys, pickle; from kubeplay.runtime.conmon import create_container;"
        "print(create_container(pickle.loads(bytes.fromhex(sys.argv[1]))))"
    )
    import pickle

    done = subprocess.run([sys.executable, "-c", script, pickle.dumps(spec).hex()], capture_output=True,
                          text=True, timeout=20, cwd=os.getcwd())
    # communicate() returning at all proves the pipes closed while conmon and the container still run
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 0
    assert conmon_pid(spec.conmon_pidfile) is not None

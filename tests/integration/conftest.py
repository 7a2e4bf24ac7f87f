"""Fixtures for pod tests: a runner with the busybox images imported, torn down without leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.cli import KubeplayRunner

BUSYBOX = "localhost/test/busybox:latest"
ENTRYPOINT = "localhost/test/entrypoint:latest"


def conmon_pids_for(root: Path) -> list[int]:
    """conmon processes whose command line names this test's run root (they carry it in exit commands)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"conmon") and any(str(root).encode() in arg for arg in argv):
            found.append(int(entry.name))
    return found


class PodRunner:
    """The CLI bound to one test's roots, plus helpers to write manifests and wait for states."""

    def __init__(self, runner: KubeplayRunner) -> None:
        self.kp = runner
        self.manifests = runner.base / "manifests"
        self.manifests.mkdir(exist_ok=True)

    def __call__(self, *args: str, **kwargs):
        return self.kp(*args, **kwargs)

    def write(self, name: str, *documents: dict) -> Path:
        path = self.manifests / name
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        return path

    def pod(self, name: str, *containers: dict, **spec: object) -> dict:
        # test containers are shells that ignore SIGTERM as PID 1: without a short grace period every
        # down would wait Kubernetes' default 30 s; tests of the grace period set their own
        spec.setdefault("terminationGracePeriodSeconds", 1)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": list(containers), **spec}}

    def inspect(self, name: str) -> dict:
        result = self.kp("pod", "inspect", name, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)[0]

    def container(self, pod: str, name: str) -> dict:
        return next(c for c in self.inspect(pod)["containers"] if c["name"] == name)

    def wait_for(self, predicate, timeout: float = 20, what: str = "condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}")

    def exited(self, pod: str, name: str, timeout: float = 20) -> dict:
        return self.wait_for(lambda: (c := self.container(pod, name))["state"] == "exited" and c,
                             timeout, f"{pod}/{name} to exit")

    def logs(self, pod: str, container: str | None = None) -> str:
        args = ["logs", pod] + (["-c", container] if container else [])
        result = self.kp(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def remove_everything(self) -> None:
        """Every pod goes through `pod rm`, one command per namespace, so the leftover checks after it test
        what a user's removal leaves; the store's networks go with `system reset` in the kp fixture."""
        listed = self.kp("pods", "-A", "--format", "json")
        if listed.returncode == 0 and listed.stdout.strip():
            by_namespace: dict[str, list[str]] = {}
            for pod in json.loads(listed.stdout):
                by_namespace.setdefault(pod["namespace"], []).append(pod["name"])
            for namespace, names in by_namespace.items():
                self.kp("pod", "rm", "-f", "-t", "0", "-n", namespace, *names)

    def import_image(self, rootfs_tar: Path, name: str, *changes: str) -> None:
        args = ["image", "import", str(rootfs_tar), name]
        for change in changes:
            args += ["--change", change]
        result = self.kp(*args)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def rootfs_tar(archives) -> Path:
    return archives.rootfs_tar


@pytest.fixture
def pods(kp, rootfs_tar):
    if os.geteuid() != 0:
        pytest.skip("pods need root")
    runner = PodRunner(kp)
    runner.import_image(rootfs_tar, BUSYBOX, 'CMD ["sh"]')
    yield runner
    runner.remove_everything()
    leftover_conmon = conmon_pids_for(kp.runroot)
    leftover_mounts = kp.leftover_mounts()
    for pid in leftover_conmon:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not leftover_conmon, f"conmon processes left: {leftover_conmon}"
    assert not leftover_mounts, f"mounts left: {leftover_mounts}"

"""Fixtures for pod tests: a runner with the busybox images imported, torn down without leftovers.

The busybox image is imported once a session, into a template store; each test's store starts as a
copy of that store's root (the store records no absolute path of its root, so a copy is a store of
its own). Tests that import images on purpose still run their own `image import`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
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


@pytest.fixture(scope="session")
def busybox_store(archives):
    """The root of a store holding BUSYBOX (imported as the `pods` fixture's tests expect it), made
    once; the importing command has exited, so its database is closed and whole on disk."""
    if os.geteuid() != 0:
        pytest.skip("pods need root")
    template = PodRunner(KubeplayRunner(Path(tempfile.mkdtemp(prefix="kp-template-", dir="/tmp"))))
    # the session's own tar: a test module may give `rootfs_tar` another meaning (tests/integration/test_rootless.py)
    template.import_image(archives.rootfs_tar, BUSYBOX, 'CMD ["sh"]')
    yield template.kp.root
    template.kp.cleanup()


# what `system reset` names when it has to take down namespaces or mounts that no pod's removal took
STRAY_LINES = ("removed namespace ", "removed mount ")


@pytest.fixture
def pods(kp, busybox_store):
    # cp -a keeps the layers' hard links, modes, owners and extended attributes
    subprocess.run(["cp", "-a", str(busybox_store), str(kp.root)], check=True, capture_output=True, timeout=60)
    runner = PodRunner(kp)
    yield runner
    # one reset removes the pods as `pod rm -f -t 0` does, then networks, rules and files; what the
    # pods' removal left behind shows as a stray line, a conmon process or a mount outside the store
    reset = kp("system", "reset", "--force", timeout=180)
    strays = [line for line in reset.stdout.splitlines() if line.startswith(STRAY_LINES)]
    leftover_conmon = conmon_pids_for(kp.runroot)
    leftover_mounts = kp.leftover_mounts()
    for pid in leftover_conmon:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not leftover_conmon, f"conmon processes left: {leftover_conmon}"
    assert not strays, f"left by the pods' removal, taken down by reset: {strays}"
    assert not leftover_mounts, f"mounts left: {leftover_mounts}"

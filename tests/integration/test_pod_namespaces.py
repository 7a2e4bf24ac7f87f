"""A pod's shared namespaces as root: pinned under <runroot>/netns before any container exists,
joined by the infra and every member alike, and gone after down. A shareProcessNamespace pod keeps
the infra-first order (its PID namespace needs the infra as init)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root
KINDS = {"network": "net", "uts": "uts", "ipc": "ipc"}


def idle(name: str) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}


def pinned(runroot: Path, pod_id: str, kind: str) -> Path:
    return runroot / "netns" / (pod_id if kind == "network" else f"{pod_id}.{kind}")


def namespace_of(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{KINDS[kind]}")


def nsfs_mounts_below(directory: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith(str(directory))
                and " nsfs " in line]


def test_infra_and_members_join_the_pinned_namespaces_and_down_unpins_them(pods):
    manifest = pods.write("pinned.yaml", pods.pod("pinned", idle("one"), idle("two"), hostname="pinned-host"))
    assert pods("play", str(manifest)).returncode == 0
    info = pods.inspect("pinned")
    pids = {c["name"]: c["pid"] for c in info["containers"]}
    runroot = pods.kp.runroot
    for kind in KINDS:
        path = pinned(runroot, info["id"], kind)
        inode = os.stat(path).st_ino
        seen = {namespace_of(pid, kind) for pid in pids.values()}
        assert seen == {f"{KINDS[kind]}:[{inode}]"}, (kind, seen)  # one namespace: the pinned one
        assert namespace_of(pids["one"], kind) != os.readlink(f"/proc/self/ns/{KINDS[kind]}")
    hostname = pods("exec", "pinned", "-c", "two", "--", "hostname")
    assert hostname.stdout.strip() == "pinned-host"
    assert pods("down", str(manifest)).returncode == 0
    assert not any(pinned(runroot, info["id"], kind).exists() for kind in KINDS)
    assert nsfs_mounts_below(runroot) == []


def test_a_shared_pid_namespace_pod_starts_its_infra_first(pods):
    manifest = pods.write("sharedpid.yaml", pods.pod("sharedpid", idle("one"), shareProcessNamespace=True))
    assert pods("play", str(manifest)).returncode == 0
    info = pods.inspect("sharedpid")
    infra = next(c for c in info["containers"] if c["role"] == "infra")
    member = next(c for c in info["containers"] if c["name"] == "one")
    for kind in ("uts", "ipc"):
        assert not pinned(pods.kp.runroot, info["id"], kind).exists()  # taken from the infra instead
        assert namespace_of(member["pid"], kind) == namespace_of(infra["pid"], kind)
    assert namespace_of(member["pid"], "network") == namespace_of(infra["pid"], "network")
    ps = pods("exec", "sharedpid", "-c", "one", "--", "ps")
    assert "catatonit" in ps.stdout  # the infra is PID 1 of the pod's PID namespace
    assert pods("down", str(manifest)).returncode == 0
    assert nsfs_mounts_below(pods.kp.runroot) == []

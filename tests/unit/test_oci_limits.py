"""rlimit clamping and cgroup resource math, cgroup paths and cleanup on a fake hierarchy."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import UserError
from kubeplay.model.plan import ResourcePlan
from kubeplay.oci.cgroups import (
    cgroup_mountpoints,
    cgroups_path,
    cpu_shares,
    linux_resources,
    pod_cgroup_paths,
    remove_pod_cgroups,
    remove_top_cgroups,
    with_resources,
)
from kubeplay.oci.rlimits import clamp_rlimit, default_rlimits, parse_ulimit, with_rlimits
from kubeplay.oci.spec import default_spec

UNLIMITED = (1 << 64) - 1


def host_20000(name: str) -> int:
    return 20000 if name == "RLIMIT_NOFILE" else -1


def test_clamp_to_host_hard_limit():
    assert clamp_rlimit("RLIMIT_NOFILE", 1048576, 1048576, host_20000) == {
        "type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000}
    assert clamp_rlimit("RLIMIT_NOFILE", 1024, 4096, host_20000)["soft"] == 1024


def test_unlimited_request_takes_host_limit_and_unlimited_host_keeps_request():
    assert clamp_rlimit("RLIMIT_NOFILE", -1, -1, host_20000)["hard"] == 20000
    assert clamp_rlimit("RLIMIT_CORE", -1, -1, host_20000)["hard"] == UNLIMITED
    assert clamp_rlimit("RLIMIT_CORE", 10, 20, host_20000)["hard"] == 20


def test_default_rlimits_with_containers_conf():
    limits = {r["type"]: r for r in default_rlimits(["nofile=1024:2048", "nproc=50"], host_20000)}
    assert limits["RLIMIT_NOFILE"] == {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}
    assert limits["RLIMIT_NPROC"]["soft"] == limits["RLIMIT_NPROC"]["hard"] == 50
    assert default_rlimits([], host_20000) == [{"type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000}]
    assert default_rlimits(["nofile=100000:200000"], host_20000)[0]["hard"] == 20000


@pytest.mark.parametrize("bad", ["nofile", "bogus=1:2", "nofile=a:b", "nofile=10:5"])
def test_parse_ulimit_errors(bad):
    with pytest.raises(UserError, match="default_ulimits"):
        parse_ulimit(bad)


def test_with_rlimits_replaces_by_type_and_clamps():
    spec = default_spec()
    with_rlimits([{"type": "RLIMIT_NOFILE", "soft": UNLIMITED, "hard": UNLIMITED},
                  {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}], host_20000)(spec)
    by_type = {r["type"]: r for r in spec["process"]["rlimits"]}
    assert by_type["RLIMIT_NOFILE"]["hard"] == 20000
    assert by_type["RLIMIT_CORE"] == {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    assert len(spec["process"]["rlimits"]) == 2


@pytest.mark.parametrize(("millis", "shares"), [(1, 2), (100, 102), (250, 256), (1000, 1024), (2000, 2048)])
def test_cpu_shares(millis, shares):
    assert cpu_shares(millis) == shares


def test_linux_resources_full():
    plan = ResourcePlan(cpu_limit_millis=500, memory_limit=256 << 20, cpu_request_millis=250,
                        memory_request=128 << 20)
    assert linux_resources(plan, pids_limit=100) == {
        "memory": {"limit": 256 << 20, "reservation": 128 << 20},
        "cpu": {"shares": 256, "quota": 50000, "period": 100000},
        "pids": {"limit": 100},
    }


def test_linux_resources_limit_implies_request_and_min_quota():
    assert linux_resources(ResourcePlan(cpu_limit_millis=5))["cpu"] == {
        "shares": 5, "quota": 1000, "period": 100000}
    assert linux_resources(ResourcePlan()) == {}


def test_with_resources_keeps_device_rules():
    spec = default_spec()
    with_resources(ResourcePlan(memory_limit=1 << 30))(spec)
    assert spec["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    assert spec["linux"]["resources"]["memory"] == {"limit": 1 << 30}


def test_cgroups_path():
    assert cgroups_path("p1", "c1") == "/kubeplay/pod-p1/c1"
    assert cgroups_path("p1", "c1", rootless=True) is None
    assert cgroups_path("p1", "c1", rootless=True, delegated_base="/user.slice/x/") == \
        "/user.slice/x/kubeplay/pod-p1/c1"


MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / {root}/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / {root}/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / {root}/with\\040space rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / {root}/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_cgroup_mountpoints_parses_v1_v2_and_escapes():
    points = cgroup_mountpoints(MOUNTINFO.format(root="/sys/fs/cgroup"))
    assert points == [Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/memory"),
                      Path("/sys/fs/cgroup/with space"), Path("/sys/fs/cgroup/unified")]


def test_remove_pod_cgroups_bottom_up(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO.format(root=tmp_path / "cg"))
    for hierarchy in ("cpu", "memory", "unified"):
        (tmp_path / "cg" / hierarchy / "kubeplay" / "pod-p1" / "ctr-a").mkdir(parents=True)
    (tmp_path / "cg" / "cpu" / "kubeplay" / "pod-p2").mkdir()
    # a regular file stands in for a cgroup that the kernel would refuse to remove
    busy = tmp_path / "cg" / "memory" / "kubeplay" / "pod-p1" / "ctr-b"
    busy.mkdir()
    (busy / "cgroup.procs").write_text("1\n")
    found = pod_cgroup_paths("p1", mountinfo)
    assert sorted(p.parent.parent.name for p in found) == ["cpu", "memory", "unified"]
    leftovers = remove_pod_cgroups("p1", mountinfo)
    assert busy in leftovers
    assert not (tmp_path / "cg" / "cpu" / "kubeplay" / "pod-p1").exists()
    assert not (tmp_path / "cg" / "unified" / "kubeplay" / "pod-p1").exists()
    assert (tmp_path / "cg" / "cpu" / "kubeplay" / "pod-p2").exists()
    assert not (tmp_path / "cg" / "memory" / "kubeplay" / "pod-p1" / "ctr-a").exists()
    assert remove_pod_cgroups("missing", mountinfo) == []


def test_kubeplay_top_cgroup_goes_only_where_no_pod_is_left(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO.format(root=tmp_path / "cg"))
    (tmp_path / "cg" / "cpu" / "kubeplay").mkdir(parents=True)
    (tmp_path / "cg" / "memory" / "kubeplay" / "pod-other-store").mkdir(parents=True)
    assert remove_top_cgroups(mountinfo) == [tmp_path / "cg" / "cpu" / "kubeplay"]
    assert not (tmp_path / "cg" / "cpu" / "kubeplay").exists()
    assert (tmp_path / "cg" / "memory" / "kubeplay" / "pod-other-store").is_dir()
    assert remove_top_cgroups(tmp_path / "no-such-mountinfo") == []

"""Specs from kubeplay.oci run under the real runc: an infra (catatonit) and members joining it.

The infra holds the pod's namespaces; each member spec is built with build_member_spec on a rootfs
of the static busybox and run with `runc run` in the foreground; the test reads what the process
saw (env, cwd, uid, groups, CapEff, open-file limit, hostname), then removes everything, cgroups
included.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import ContainerPlan, EnvVar, PodPlan, SecurityPlan
from kubeplay.oci.build import SpecContext, build_infra_spec, build_member_spec
from kubeplay.oci.bundle import write_bundle
from kubeplay.oci.cgroups import pod_cgroup_paths, remove_pod_cgroups
from kubeplay.oci.spec import ALL_CAPABILITIES, DEFAULT_CAPABILITIES

pytestmark = pytest.mark.root

RUNC = shutil.which("runc")
CATATONIT = shutil.which("catatonit")
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "env", "pwd", "id", "grep", "cat", "hostname")
TIMEOUT = 30


def runc(state_root: Path, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([RUNC, "--root", str(state_root), *args], capture_output=True, text=True,
                          timeout=TIMEOUT, check=check, **kwargs)


def busybox_rootfs(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", path / "bin" / applet)
    (path / "etc").mkdir()
    (path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (path / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app\n")
    (path / "srv").mkdir()
    return path


def cap_mask(names) -> int:
    return sum(1 << ALL_CAPABILITIES.index(name) for name in names)


@pytest.fixture
def pod_env(tmp_path):
    if not (RUNC and CATATONIT and BUSYBOX.is_file()):
        pytest.skip("runc, catatonit and busybox-static are needed")
    state_root = tmp_path / "runc-state"
    state_root.mkdir()
    pod_id = uuid.uuid4().hex[:12]
    started: list[str] = []
    yield tmp_path, state_root, pod_id, started
    for container_id in reversed(started):
        runc(state_root, "delete", "--force", container_id, check=False)
    leftovers = remove_pod_cgroups(pod_id)
    assert leftovers == [], f"cgroups left behind: {leftovers}"
    assert pod_cgroup_paths(pod_id) == []


def start_infra(tmp_path: Path, state_root: Path, pod: PodPlan, pod_id: str, started: list[str]) -> int:
    rootfs = tmp_path / "infra-rootfs"
    rootfs.mkdir()
    shutil.copy2(CATATONIT, rootfs / "catatonit")
    container_id = f"kp-infra-{pod_id}"
    ctx = SpecContext(container_id=container_id, pod_id=pod_id, hostname=pod.name, namespace_paths={},
                      seccomp_profile_path=None)
    bundle = tmp_path / "bundles" / container_id
    write_bundle(bundle, build_infra_spec(pod, rootfs, ctx))
    started.append(container_id)
    # detached: catatonit inherits runc's stdio, so nothing may be a pipe we wait on
    with open(tmp_path / "infra.stderr", "w") as errors:
        result = subprocess.run([RUNC, "--root", str(state_root), "run", "--detach", "--bundle", str(bundle),
                                 container_id], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, (tmp_path / "infra.stderr").read_text()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        state = runc(state_root, "state", container_id).stdout
        if '"running"' in state:
            return int(json.loads(state)["pid"])
        time.sleep(0.05)
    pytest.fail("infra container did not reach running")


def run_member(tmp_path, state_root, pod, pod_id, infra_pid, plan, image, started) -> str:
    rootfs = tmp_path / f"rootfs-{plan.name}"
    busybox_rootfs(rootfs)
    container_id = f"kp-{plan.name}-{pod_id}"
    paths = {kind: f"/proc/{infra_pid}/ns/{name}" for kind, name in
             (("network", "net"), ("ipc", "ipc"), ("uts", "uts"), ("pid", "pid"))}
    ctx = SpecContext(container_id=container_id, pod_id=pod_id, hostname=pod.name, namespace_paths=paths,
                      extra_env=(("POD_IP", "10.88.0.7"),), seccomp_profile_path=None)
    spec = build_member_spec(plan, pod, image, rootfs, ctx)
    bundle = tmp_path / "bundles" / container_id
    write_bundle(bundle, spec)
    started.append(container_id)
    result = runc(state_root, "run", "--bundle", str(bundle), container_id, stdin=subprocess.DEVNULL,
                  check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


SCRIPT = ("env; echo cwd=$(pwd); echo uid=$(id -u) gid=$(id -g) groups=$(id -G); "
          "grep CapEff /proc/self/status; echo nofile=$(ulimit -n); echo host=$(hostname)")


def parse(output: str) -> dict[str, str]:
    values = {}
    for line in output.splitlines():
        key, sep, value = line.replace("CapEff:", "CapEff=").partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def test_member_specs_run_under_runc(pod_env):
    tmp_path, state_root, pod_id, started = pod_env
    root_plan = ContainerPlan(
        name="main", image="busybox", command=("/bin/sh", "-c"), args=(SCRIPT,),
        env=(EnvVar("GREETING", "hello"), EnvVar("POD_IP", field_path="status.podIP")),
        security=SecurityPlan(capabilities_add=("NET_ADMIN",), capabilities_drop=("KILL",)),
    )
    user_plan = ContainerPlan(name="side", image="busybox", args=(SCRIPT,),
                              security=SecurityPlan(run_as_user=1000, run_as_non_root=True))
    pod = PodPlan(name="webpod", containers=(root_plan, user_plan),
                  security=SecurityPlan(supplemental_groups=(4242,)))
    image = ImageConfig(entrypoint=("/bin/sh", "-c"), cmd=("exit 3",), env=("FROM_IMAGE=yes",),
                        working_dir="/srv")
    infra_pid = start_infra(tmp_path, state_root, pod, pod_id, started)

    seen = parse(run_member(tmp_path, state_root, pod, pod_id, infra_pid, root_plan, image, started))
    assert seen["GREETING"] == "hello" and seen["FROM_IMAGE"] == "yes" and seen["POD_IP"] == "10.88.0.7"
    assert seen["HOSTNAME"] == "webpod" and seen["host"] == "webpod"  # the infra's UTS namespace
    assert seen["cwd"] == "/srv"
    assert seen["uid"].split()[0] == "0"
    assert set(seen["uid"].split("groups=")[1].split()) == {"0", "4242"}  # pod supplementalGroups
    expected = (set(DEFAULT_CAPABILITIES) | {"CAP_NET_ADMIN"}) - {"CAP_KILL"}
    assert int(seen["CapEff"], 16) == cap_mask(expected)
    assert int(seen["nofile"]) == min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)

    side = parse(run_member(tmp_path, state_root, pod, pod_id, infra_pid, user_plan, image, started))
    assert side["uid"].split()[0] == "1000"
    assert "gid=1000" in side["uid"]
    assert set(side["uid"].split("groups=")[1].split()) == {"1000", "10", "4242"}
    assert int(side["CapEff"], 16) == 0  # a non-root process keeps no effective capabilities
    assert len(pod_cgroup_paths(pod_id)) > 0  # the runtime made the pod's cgroups where we said

"""Infra and member specs from plans, and bundle writing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kubeplay.errors import EngineError, HostError, UserError
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import ContainerPlan, PodPlan, ResourcePlan, SecurityPlan
from kubeplay.oci.build import SpecContext, build_infra_spec, build_member_spec
from kubeplay.oci.bundle import write_bundle
from kubeplay.oci.options import bind_mount

PATHS = {"network": "/proc/9/ns/net", "ipc": "/proc/9/ns/ipc", "uts": "/proc/9/ns/uts",
         "pid": "/proc/9/ns/pid"}
IMAGE = ImageConfig(cmd=("/bin/sh",), env=("A=1",), working_dir="/srv", user="")


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "rootfs" / "etc").mkdir(parents=True)
    (tmp_path / "rootfs" / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    return tmp_path / "rootfs"


def ctx(**changes) -> SpecContext:
    values = dict(container_id="c1", pod_id="p1", hostname="web", namespace_paths=dict(PATHS),
                  seccomp_profile_path=None)
    values.update(changes)
    return SpecContext(**values)


def namespaces(spec: dict) -> dict[str, str | None]:
    return {entry["type"]: entry.get("path") for entry in spec["linux"]["namespaces"]}


def unconfined(plan: ContainerPlan) -> ContainerPlan:
    """Plans in these tests skip the default seccomp profile unless the test is about it."""
    from dataclasses import replace

    return replace(plan, security=replace(plan.security, seccomp_profile=plan.security.seccomp_profile
                                          or "Unconfined"))


def test_member_spec_basics(rootfs):
    plan = unconfined(ContainerPlan(name="app", image="img", args=("-c", "true"),
                                    resources=ResourcePlan(memory_limit=64 << 20), tty=True))
    shm = bind_mount("/run/pod/shm", "/dev/shm")
    spec = build_member_spec(plan, PodPlan(name="web", containers=(plan,)), IMAGE, rootfs,
                             ctx(mounts=(shm,), extra_env=(("POD_IP", "10.1.2.3"),)))
    process = spec["process"]
    assert process["args"] == ["-c", "true"]
    assert process["cwd"] == "/srv"
    assert process["env"][:3] == [process["env"][0], "HOSTNAME=web", "A=1"]
    assert "POD_IP=10.1.2.3" in process["env"]
    assert process["user"]["uid"] == 0 and process["terminal"] is True
    assert spec["root"]["path"] == str(rootfs)
    assert namespaces(spec) == {"pid": None, "ipc": PATHS["ipc"], "uts": PATHS["uts"], "mount": None,
                                "network": PATHS["network"]}
    assert "hostname" not in spec
    assert [m["source"] for m in spec["mounts"] if m["destination"] == "/dev/shm"] == ["/run/pod/shm"]
    assert spec["linux"]["cgroupsPath"] == "/kubeplay/pod-p1/c1"
    assert spec["linux"]["resources"]["memory"] == {"limit": 64 << 20}
    assert "seccomp" not in spec["linux"]
    assert spec["annotations"]["io.kubernetes.container.name"] == "app"
    json.dumps(spec)


def test_member_shares_pid_and_host_namespaces(rootfs):
    plan = unconfined(ContainerPlan(name="app", image="img"))
    shared = build_member_spec(plan, PodPlan(name="w", share_process_namespace=True), IMAGE, rootfs, ctx())
    assert namespaces(shared)["pid"] == PATHS["pid"]
    host = build_member_spec(plan, PodPlan(name="w", host_network=True, host_pid=True, host_ipc=True),
                             IMAGE, rootfs, ctx(namespace_paths={}))
    assert set(namespaces(host)) == {"mount"}


def test_member_missing_namespace_path(rootfs):
    plan = unconfined(ContainerPlan(name="app", image="img"))
    with pytest.raises(EngineError, match="network namespace"):
        build_member_spec(plan, PodPlan(name="w"), IMAGE, rootfs, ctx(namespace_paths={}))


def test_member_security(rootfs):
    security = SecurityPlan(capabilities_add=("NET_ADMIN",), capabilities_drop=("KILL",),
                            allow_privilege_escalation=False, read_only_root_filesystem=True)
    plan = ContainerPlan(name="app", image="img", security=security)
    pod_security = SecurityPlan(seccomp_profile="Unconfined", sysctls={"net.core.somaxconn": "1024"})
    pod = PodPlan(name="w", security=pod_security)
    spec = build_member_spec(plan, pod, IMAGE, rootfs, ctx())
    caps = spec["process"]["capabilities"]["effective"]
    assert "CAP_NET_ADMIN" in caps and "CAP_KILL" not in caps
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["root"]["readonly"] is True
    assert spec["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}


def test_member_privileged(rootfs):
    plan = ContainerPlan(name="app", image="img", security=SecurityPlan(privileged=True))
    spec = build_member_spec(plan, PodPlan(name="w"), IMAGE, rootfs, ctx())
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]
    assert "seccomp" not in spec["linux"] and spec["linux"]["maskedPaths"] == []


@pytest.mark.skipif(not Path("/usr/share/containers/seccomp.json").is_file(), reason="no default profile")
def test_member_default_seccomp_follows_final_caps(rootfs):
    plain = ContainerPlan(name="app", image="img")
    admin = ContainerPlan(name="app", image="img", security=SecurityPlan(capabilities_add=("SYS_ADMIN",)))

    def allows(spec, name):
        rules = spec["linux"]["seccomp"]["syscalls"]
        return any(name in r["names"] and r["action"] == "SCMP_ACT_ALLOW" for r in rules)

    assert not allows(build_member_spec(plain, PodPlan(name="w"), IMAGE, rootfs, ctx()), "bpf")
    assert allows(build_member_spec(admin, PodPlan(name="w"), IMAGE, rootfs, ctx()), "bpf")


def test_host_network_refuses_net_sysctls(rootfs):
    plan = unconfined(ContainerPlan(name="app", image="img"))
    pod = PodPlan(name="w", host_network=True, security=SecurityPlan(sysctls={"net.ipv4.ip_forward": "1"}))
    with pytest.raises(UserError, match="net.ipv4.ip_forward"):
        build_member_spec(plan, pod, IMAGE, rootfs, ctx())


def test_member_rootless_binds_sys_and_skips_cgroup(rootfs):
    plan = unconfined(ContainerPlan(name="app", image="img", resources=ResourcePlan(memory_limit=1 << 20)))
    spec = build_member_spec(plan, PodPlan(name="w"), IMAGE, rootfs,
                             ctx(rootless=True, namespace_paths={**PATHS, "user": "/proc/9/ns/user"}))
    assert "cgroupsPath" not in spec["linux"] and "memory" not in spec["linux"]["resources"]
    assert namespaces(spec)["user"] == "/proc/9/ns/user"
    assert not any(m["type"] == "sysfs" for m in spec["mounts"])


def test_infra_spec(tmp_path):
    spec = build_infra_spec(PodPlan(name="web"), tmp_path, ctx(namespace_paths={}))
    assert spec["process"]["args"] == ["/catatonit", "-P"]
    assert spec["process"]["capabilities"]["bounding"] == []
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["hostname"] == "web" and spec["root"]["readonly"] is True
    assert set(namespaces(spec)) == {"pid", "ipc", "uts", "mount", "network"}
    assert all(path is None for path in namespaces(spec).values())
    assert [m["destination"] for m in spec["mounts"]] == ["/proc", "/dev", "/dev/mqueue"]
    assert spec["linux"]["cgroupsPath"] == "/kubeplay/pod-p1/c1"


def test_infra_joins_premade_netns_and_host_namespaces(tmp_path):
    joined = build_infra_spec(PodPlan(name="web", hostname="h1"), tmp_path,
                              ctx(namespace_paths={"network": "/run/netns/x"}))
    assert namespaces(joined)["network"] == "/run/netns/x" and joined["hostname"] == "h1"
    host = build_infra_spec(PodPlan(name="web", host_network=True, host_ipc=True, host_pid=True), tmp_path,
                            ctx(namespace_paths={}))
    assert set(namespaces(host)) == {"mount"} and "hostname" not in host


def test_infra_rootless_user_namespace(tmp_path):
    spec = build_infra_spec(PodPlan(name="web"), tmp_path,
                            ctx(namespace_paths={}, rootless=True, uid_mappings=((0, 1000, 1),),
                                gid_mappings=((0, 1000, 1),)))
    assert "user" in namespaces(spec) and "cgroupsPath" not in spec["linux"]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]


def test_write_bundle(tmp_path):
    bundle = tmp_path / "b" / "c1"
    path = write_bundle(bundle, {"ociVersion": "1.0.2", "secret": "x"})
    assert path == bundle / "config.json"
    assert json.loads(path.read_text())["secret"] == "x"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_bundle(bundle, {"ociVersion": "1.0.2"})
    assert json.loads(path.read_text()) == {"ociVersion": "1.0.2"}
    assert [p.name for p in bundle.iterdir()] == ["config.json"]


def test_write_bundle_error_is_host_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HostError, match="config.json"):
        write_bundle(blocker / "sub", {})

"""The default spec and the generic options, each applied alone to a fresh default spec."""

from __future__ import annotations

import pytest

from kubeplay.errors import EngineError, UserError
from kubeplay.oci import options as opt
from kubeplay.oci.spec import ALL_CAPABILITIES, DEFAULT_CAPABILITIES, apply_options, default_spec


def spec_with(*options) -> dict:
    return apply_options(default_spec(), options)


def ns(spec: dict) -> dict[str, str | None]:
    return {entry["type"]: entry.get("path") for entry in spec["linux"]["namespaces"]}


def test_default_spec_shape():
    spec = default_spec()
    assert spec["ociVersion"] == "1.0.2"
    process = spec["process"]
    assert process["terminal"] is False and process["cwd"] == "/" and process["noNewPrivileges"] is False
    assert process["env"][0].startswith("PATH=/usr/local/sbin")
    for name in ("bounding", "effective", "permitted"):
        assert process["capabilities"][name] == list(DEFAULT_CAPABILITIES)
    assert "inheritable" not in process["capabilities"] and "ambient" not in process["capabilities"]
    assert len(DEFAULT_CAPABILITIES) == 14
    assert spec["root"]["path"] == "rootfs"
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    sys_mount = spec["mounts"][5]
    assert {"ro", "nosuid", "noexec", "nodev"} <= set(sys_mount["options"])
    assert "ro" in spec["mounts"][6]["options"]
    assert set(ns(spec)) == {"pid", "ipc", "uts", "mount", "network"}
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"]


def test_default_spec_is_fresh_each_time():
    first = default_spec()
    first["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    first["mounts"].clear()
    second = default_spec()
    assert "CAP_SYS_ADMIN" not in second["process"]["capabilities"]["bounding"]
    assert second["mounts"]


def test_default_nofile_is_clamped_to_the_host():
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    (nofile,) = [r for r in default_spec()["process"]["rlimits"] if r["type"] == "RLIMIT_NOFILE"]
    expected = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
    assert nofile["soft"] == nofile["hard"] == expected


def test_namespace_paths_replace_and_add():
    spec = spec_with(opt.with_namespace_paths({"net": "/proc/7/ns/net", "user": "/proc/7/ns/user"}))
    assert ns(spec)["network"] == "/proc/7/ns/net"
    assert ns(spec)["user"] == "/proc/7/ns/user"
    assert ns(spec)["pid"] is None
    assert len(spec["linux"]["namespaces"]) == 6


def test_namespace_path_unknown_type():
    with pytest.raises(EngineError):
        opt.with_namespace_paths({"bogus": "/x"})


def test_new_namespace_drops_path():
    spec = spec_with(opt.with_namespace_paths({"pid": "/proc/1/ns/pid"}), opt.with_new_namespace("pid"))
    assert ns(spec)["pid"] is None


def test_host_namespaces_drop_entries_and_hostname():
    spec = spec_with(opt.with_hostname("web"), opt.with_host_namespaces(["network", "uts"]))
    assert "network" not in ns(spec) and "uts" not in ns(spec)
    assert "hostname" not in spec


def test_hostname():
    assert spec_with(opt.with_hostname("web-1"))["hostname"] == "web-1"


def test_mounts_replace_same_destination_and_append_new():
    shm = opt.OciMount("/dev/shm", "/run/pod/shm", "bind", ("rbind", "rw"))
    data = opt.OciMount("/data/", "/srv/data", "bind", ("rbind", "ro"))
    spec = spec_with(opt.with_mounts([shm, data]))
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations.count("/dev/shm") == 1
    assert spec["mounts"][destinations.index("/dev/shm")]["source"] == "/run/pod/shm"
    assert spec["mounts"][-1] == {"destination": "/data/", "type": "bind", "source": "/srv/data",
                                  "options": ["rbind", "ro"]}


@pytest.mark.parametrize(("propagation", "expected"),
                         [("", "rprivate"), ("None", "rprivate"), ("HostToContainer", "rslave"),
                          ("Bidirectional", "rshared")])
def test_bind_propagation(propagation, expected):
    spec = spec_with(opt.with_bind("/src", "/dst", read_only=True, propagation=propagation))
    assert spec["mounts"][-1]["options"] == ["rbind", "ro", expected]


def test_bind_bad_propagation():
    with pytest.raises(UserError, match="mountPropagation"):
        opt.bind_mount("/a", "/b", propagation="Sideways")


def test_readonly_rootfs():
    assert spec_with(opt.with_readonly_rootfs())["root"]["readonly"] is True
    assert spec_with(opt.with_readonly_rootfs(False))["root"]["readonly"] is False


def test_privileged():
    spec = spec_with(opt.with_privileged())
    caps = spec["process"]["capabilities"]
    assert caps["bounding"] == list(ALL_CAPABILITIES) and "CAP_SYS_ADMIN" in caps["effective"]
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []
    assert "seccomp" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sys_mount["options"] and "rw" in sys_mount["options"]


def caps_after(add=(), drop=()):
    return spec_with(opt.with_capabilities(add, drop))["process"]["capabilities"]


def test_capabilities_add_and_drop():
    caps = caps_after(add=["NET_ADMIN", "cap_sys_time"], drop=["CHOWN"])
    for name in ("bounding", "effective", "permitted"):
        assert "CAP_NET_ADMIN" in caps[name] and "CAP_SYS_TIME" in caps[name]
        assert "CAP_CHOWN" not in caps[name]


def test_capabilities_drop_all_then_add():
    assert caps_after(add=["NET_BIND_SERVICE"], drop=["ALL"])["bounding"] == ["CAP_NET_BIND_SERVICE"]


def test_capabilities_add_all_then_drop():
    caps = caps_after(add=["ALL"], drop=["SYS_ADMIN"])
    assert len(caps["bounding"]) == len(ALL_CAPABILITIES) - 1 and "CAP_SYS_ADMIN" not in caps["bounding"]


def test_capabilities_unknown_name():
    with pytest.raises(UserError, match="NOT_A_CAP"):
        opt.with_capabilities(add=["NOT_A_CAP"], container="web")


def test_no_new_privs():
    assert spec_with(opt.with_no_new_privs())["process"]["noNewPrivileges"] is True


def test_sysctls_and_annotations():
    spec = spec_with(opt.with_sysctls({"net.ipv4.ip_forward": "1"}), opt.with_annotations({"a": "b"}))
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert spec["annotations"] == {"a": "b"}


def test_tty_and_stdin():
    spec = spec_with(opt.with_tty(), opt.with_stdin())
    assert spec["process"]["terminal"] is True
    assert spec["annotations"][opt.STDIN_ANNOTATION] == "true"


def test_proc_mount_unmasked_clears_paths():
    spec = spec_with(opt.with_proc_mount("Unmasked"))
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []
    assert spec_with(opt.with_proc_mount("Default"))["linux"]["maskedPaths"]
    with pytest.raises(UserError):
        opt.with_proc_mount("Weird")


def test_user_namespace_mappings():
    spec = spec_with(opt.with_user_namespace([(0, 1000, 1)], [(0, 1000, 1)]))
    assert ns(spec)["user"] is None
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]


def test_sys_bind_replaces_sysfs():
    spec = spec_with(opt.with_sys_bind())
    sys_mounts = [m for m in spec["mounts"] if m["destination"].startswith("/sys")]
    assert len(sys_mounts) == 1 and sys_mounts[0]["type"] == "bind" and "ro" in sys_mounts[0]["options"]

"""Conversion of the containers/common seccomp profile to OCI linux.seccomp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeplay.errors import UserError
from kubeplay.oci.seccomp import convert_profile, kernel_version, load_profile, profile_for, with_seccomp
from kubeplay.oci.spec import DEFAULT_CAPABILITIES, default_spec

SHIPPED = Path("/usr/share/containers/seccomp.json")


def allowed(seccomp: dict) -> set[str]:
    return {name for rule in seccomp["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
            and "args" not in rule for name in rule["names"]}


def errno_rules(seccomp: dict, name: str) -> list[dict]:
    return [r for r in seccomp["syscalls"] if name in r["names"] and r["action"] == "SCMP_ACT_ERRNO"]


@pytest.mark.skipif(not SHIPPED.is_file(), reason="containers-common's seccomp.json is not installed")
def test_shipped_profile_converts_and_gates_on_caps():
    profile = load_profile(SHIPPED)
    plain = convert_profile(profile, DEFAULT_CAPABILITIES, arch="amd64", kernel=(6, 1))
    admin = convert_profile(profile, (*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"), arch="amd64", kernel=(6, 1))
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO"
    assert plain["architectures"][:1] == ["SCMP_ARCH_X86_64"] and "SCMP_ARCH_X86" in plain["architectures"]
    assert {"read", "write", "execve", "arch_prctl"} <= allowed(plain)
    # CAP_SYS_ADMIN gates bpf and friends: allowed only with the cap, refused (EPERM) without it
    assert "bpf" not in allowed(plain) and errno_rules(plain, "bpf")
    assert "bpf" in allowed(admin) and not errno_rules(admin, "bpf")
    assert "chroot" in allowed(plain)  # CAP_SYS_CHROOT is in the default set
    for rule in plain["syscalls"]:
        assert set(rule) <= {"names", "action", "args", "errnoRet"}
    json.dumps(plain)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="containers-common's seccomp.json is not installed")
def test_arch_gating_on_shipped_profile():
    profile = load_profile(SHIPPED)
    amd64 = convert_profile(profile, DEFAULT_CAPABILITIES, arch="amd64")
    arm64 = convert_profile(profile, DEFAULT_CAPABILITIES, arch="arm64")
    assert "arch_prctl" in allowed(amd64) and "arch_prctl" not in allowed(arm64)
    assert arm64["architectures"][0] == "SCMP_ARCH_AARCH64"


def test_includes_excludes_and_min_kernel():
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "syscalls": [
            {"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": None, "comment": "", "errno": ""},
            {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_X", "CAP_Y"]}},
            {"names": ["c"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_X"]}},
            {"names": ["d"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.8"}},
            {"names": ["e"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
            {"names": ["f"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    old = convert_profile(profile, ["CAP_X"], arch="amd64", kernel=(5, 4))
    assert [r["names"][0] for r in old["syscalls"]] == ["a", "f"]
    assert old["defaultErrnoRet"] == 1 and "architectures" not in old
    new = convert_profile(profile, ["CAP_X", "CAP_Y"], arch="arm64", kernel=(6, 1))
    assert [r["names"][0] for r in new["syscalls"]] == ["a", "b", "d", "e", "f"]
    assert new["syscalls"][-1] == {"names": ["f"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                                   "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}


def test_kernel_version():
    assert kernel_version("6.1.0-18-amd64") == (6, 1)
    assert kernel_version("5.15") == (5, 15)


def test_profile_names(tmp_path):
    assert profile_for("Unconfined", DEFAULT_CAPABILITIES) is None
    local = tmp_path / "p.json"
    local.write_text(json.dumps({"defaultAction": "SCMP_ACT_LOG", "syscalls": [
        {"names": ["x"], "action": "SCMP_ACT_ALLOW"}]}))
    converted = profile_for(f"Localhost:{local}", DEFAULT_CAPABILITIES)
    assert converted == {"defaultAction": "SCMP_ACT_LOG",
                         "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW"}]}
    custom_default = profile_for("RuntimeDefault", DEFAULT_CAPABILITIES, default_path=str(local))
    assert custom_default["defaultAction"] == "SCMP_ACT_LOG"
    with pytest.raises(UserError, match='"web".*does not exist'):
        profile_for(f"Localhost:{tmp_path / 'missing.json'}", DEFAULT_CAPABILITIES, container="web")
    with pytest.raises(UserError, match="unknown seccompProfile"):
        profile_for("Sometimes", DEFAULT_CAPABILITIES, container="web")


def test_bad_profile_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="cannot be read as JSON"):
        load_profile(bad)
    bad.write_text("{}")
    with pytest.raises(UserError, match="defaultAction"):
        load_profile(bad)


def test_with_seccomp_sets_and_removes():
    spec = default_spec()
    with_seccomp({"defaultAction": "SCMP_ACT_ALLOW"})(spec)
    assert spec["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW"}
    with_seccomp(None)(spec)
    assert "seccomp" not in spec["linux"]

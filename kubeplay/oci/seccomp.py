"""Seccomp: the containers/common default profile converted to OCI `linux.seccomp`.

The profile shipped in /usr/share/containers/seccomp.json (or overridden in /etc/containers) is the
moby/containers format: rules carry `includes`/`excludes` by capability, architecture and minimum
kernel, and an `archMap`. Converting means keeping the rules that apply to this host and to the
container's bounding capabilities, and naming the native architecture with its sub-architectures.
Kubernetes profile names: "" and "RuntimeDefault" use that profile, "Unconfined" none,
"Localhost:<path>" a file of either format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from kubeplay.errors import HostError, UserError
from kubeplay.oci.spec import SpecOption

PROFILE_LOCATIONS = (Path("/etc/containers/seccomp.json"), Path("/usr/share/containers/seccomp.json"))

# uname machine -> the Go architecture names the profile's `arches` use
GO_ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64",
    "loongarch64": "loong64",
}

# Go architecture -> libseccomp's name for it, to pick this host's archMap entry
SECCOMP_ARCHES = {
    "amd64": "SCMP_ARCH_X86_64",
    "arm64": "SCMP_ARCH_AARCH64",
    "386": "SCMP_ARCH_X86",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
    "loong64": "SCMP_ARCH_LOONGARCH64",
}

ARG_FIELDS = ("index", "value", "valueTwo", "op")


def host_arch() -> str:
    machine = os.uname().machine
    return GO_ARCHES.get(machine, machine)


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of a uname release such as "6.1.0-18-amd64"."""
    release = release or os.uname().release
    parts = release.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return (0, 0)


def default_profile_path(override: str | None = None) -> Path | None:
    """The profile to use for RuntimeDefault: an explicit path, /etc, then /usr/share."""
    if override:
        return Path(override)
    return next((path for path in PROFILE_LOCATIONS if path.is_file()), None)


def load_profile(path: Path, what: str = "seccomp profile") -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"{what} {path} does not exist", hint=f"create {path} or fix the path") from exc
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{what} {path} cannot be read as JSON: {exc}",
            hint=f"fix {path}; it must hold a seccomp profile in OCI or containers format",
        ) from exc
    if not isinstance(data, dict) or "defaultAction" not in data:
        raise UserError(f"{what} {path} has no defaultAction", hint="is this a seccomp profile?")
    return data


def _applies(rule: dict, caps: set[str], arch: str, kernel: tuple[int, int]) -> bool:
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if includes.get("caps") and not all(cap in caps for cap in includes["caps"]):
        return False
    if includes.get("minKernel") and kernel < kernel_version(includes["minKernel"]):
        return False
    if excludes.get("arches") and arch in excludes["arches"]:
        return False
    if excludes.get("caps") and any(cap in caps for cap in excludes["caps"]):
        return False
    return True


def _oci_rule(rule: dict) -> dict:
    names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
    out: dict = {"names": names, "action": rule["action"]}
    args = [{key: arg[key] for key in ARG_FIELDS if key in arg} for arg in rule.get("args") or []]
    if args:
        out["args"] = args
    if rule.get("errnoRet") is not None:
        out["errnoRet"] = rule["errnoRet"]
    return out


def convert_profile(
    profile: dict,
    capabilities: Iterable[str],
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict:
    """An OCI linux.seccomp object for a container with these (bounding) capabilities."""
    arch = arch or host_arch()
    kernel = kernel or kernel_version()
    caps = set(capabilities)
    seccomp: dict = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        seccomp["defaultErrnoRet"] = profile["defaultErrnoRet"]
    architectures = list(profile.get("architectures") or [])
    native = SECCOMP_ARCHES.get(arch)
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            architectures += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    if architectures:
        seccomp["architectures"] = list(dict.fromkeys(architectures))
    if profile.get("flags"):
        seccomp["flags"] = list(profile["flags"])
    rules = [_oci_rule(r) for r in profile.get("syscalls") or [] if _applies(r, caps, arch, kernel)]
    seccomp["syscalls"] = [rule for rule in rules if rule["names"]]
    return seccomp


def profile_for(
    name: str, capabilities: Iterable[str], default_path: str | None = None, container: str = ""
) -> dict | None:
    """The OCI seccomp object for a Kubernetes seccompProfile, or None for no filter."""
    if name == "Unconfined":
        return None
    if name in ("", "RuntimeDefault"):
        path = default_profile_path(default_path)
        if path is None:
            raise HostError(
                "no default seccomp profile found in " + " or ".join(map(str, PROFILE_LOCATIONS)),
                hint="install containers-common (golang-github-containers-common on Debian), "
                "or set seccompProfile type Unconfined",
            )
        return convert_profile(load_profile(path, "default seccomp profile"), capabilities)
    kind, _, location = name.partition(":")
    if kind == "Localhost" and location:
        what = f"container \"{container}\": seccomp profile" if container else "seccomp profile"
        return convert_profile(load_profile(Path(location), what), capabilities)
    raise UserError(
        f"container \"{container}\": unknown seccompProfile {name!r}",
        hint="use RuntimeDefault, Unconfined or Localhost with localhostProfile set",
    )


def with_seccomp(seccomp: dict | None) -> SpecOption:
    """Set (or, with None, remove) linux.seccomp."""

    def apply(spec: dict) -> None:
        linux = spec.setdefault("linux", {})
        if seccomp is None:
            linux.pop("seccomp", None)
        else:
            linux["seccomp"] = seccomp

    return apply

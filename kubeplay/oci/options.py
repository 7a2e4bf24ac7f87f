"""Small composable spec options: namespaces, hostname, mounts, capabilities, privilege, misc.

Each `with_*` returns a function that mutates a spec dict, so a container's spec is the default
plus a readable list of options (containerd's ApplyOpts shape). Process-, user-, seccomp-, rlimit-
and cgroup-specific options live in their own modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubeplay.errors import EngineError, UserError
from kubeplay.oci.spec import ALL_CAPABILITIES, CAPABILITY_SETS, SpecOption

# OCI namespace type names, and the /proc/PID/ns file names callers tend to use for them.
NAMESPACE_ALIASES = {"net": "network", "mnt": "mount"}
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup")

PROPAGATION_OPTIONS = {
    "": "rprivate",
    "None": "rprivate",
    "HostToContainer": "rslave",
    "Bidirectional": "rshared",
}


@dataclass(frozen=True)
class OciMount:
    """One entry of config.json `mounts`, with a host source already resolved."""

    destination: str
    source: str
    type: str = "bind"
    options: tuple[str, ...] = ()

    def to_spec(self) -> dict:
        return {
            "destination": self.destination,
            "type": self.type,
            "source": self.source,
            "options": list(self.options),
        }


def bind_mount(source: str, destination: str, read_only: bool = False, propagation: str = "") -> OciMount:
    """A recursive bind mount; `propagation` is a Kubernetes mountPropagation value."""
    if propagation not in PROPAGATION_OPTIONS:
        raise UserError(
            f"mount of {destination}: unknown mountPropagation {propagation!r}",
            hint="use None, HostToContainer or Bidirectional",
        )
    options = ["rbind", "ro" if read_only else "rw", PROPAGATION_OPTIONS[propagation]]
    return OciMount(destination=destination, source=source, type="bind", options=tuple(options))


def _namespace_type(kind: str) -> str:
    oci_type = NAMESPACE_ALIASES.get(kind, kind)
    if oci_type not in NAMESPACE_TYPES:
        raise EngineError(
            f"unknown namespace type {kind!r}",
            hint=f"namespace types are {', '.join(NAMESPACE_TYPES)} (or net, mnt)",
        )
    return oci_type


def with_namespace_paths(paths: Mapping[str, str]) -> SpecOption:
    """Join existing namespaces: replace (or add) each entry with one carrying the path."""
    wanted = {_namespace_type(kind): path for kind, path in paths.items()}

    def apply(spec: dict) -> None:
        namespaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
        seen = set()
        for entry in namespaces:
            if entry["type"] in wanted:
                entry["path"] = wanted[entry["type"]]
                seen.add(entry["type"])
        namespaces.extend({"type": kind, "path": path} for kind, path in wanted.items() if kind not in seen)

    return apply


def with_new_namespace(kind: str) -> SpecOption:
    """A fresh namespace of this type (drops any path that made it a join)."""
    oci_type = _namespace_type(kind)

    def apply(spec: dict) -> None:
        namespaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
        namespaces[:] = [ns for ns in namespaces if ns["type"] != oci_type]
        namespaces.append({"type": oci_type})

    return apply


def with_host_namespaces(kinds: Iterable[str]) -> SpecOption:
    """Stay in the host's namespaces of these types (hostNetwork, hostPID, hostIPC)."""
    dropped = {_namespace_type(kind) for kind in kinds}

    def apply(spec: dict) -> None:
        namespaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
        namespaces[:] = [ns for ns in namespaces if ns["type"] not in dropped]
        if "uts" in dropped:
            # the runtime refuses a hostname without a private UTS namespace
            spec.pop("hostname", None)

    return apply


def with_hostname(hostname: str) -> SpecOption:
    def apply(spec: dict) -> None:
        spec["hostname"] = hostname

    return apply


def with_mounts(mounts: Iterable[OciMount]) -> SpecOption:
    """Add mounts; one with the destination of an existing mount replaces it in place."""
    new = [mount.to_spec() for mount in mounts]

    def apply(spec: dict) -> None:
        current = spec.setdefault("mounts", [])
        index = {m["destination"].rstrip("/") or "/": i for i, m in enumerate(current)}
        for mount in new:
            key = mount["destination"].rstrip("/") or "/"
            if key in index:
                current[index[key]] = mount
            else:
                index[key] = len(current)
                current.append(mount)

    return apply


def with_bind(source: str, destination: str, read_only: bool = False, propagation: str = "") -> SpecOption:
    return with_mounts([bind_mount(source, destination, read_only, propagation)])


def with_readonly_rootfs(read_only: bool = True) -> SpecOption:
    def apply(spec: dict) -> None:
        spec.setdefault("root", {"path": "rootfs"})["readonly"] = read_only

    return apply


def with_privileged() -> SpecOption:
    """Every capability, nothing masked or read-only, no seccomp, all devices allowed, rw /sys."""

    def apply(spec: dict) -> None:
        caps = spec.setdefault("process", {}).setdefault("capabilities", {})
        for name in CAPABILITY_SETS:
            caps[name] = list(ALL_CAPABILITIES)
        linux = spec.setdefault("linux", {})
        linux["maskedPaths"] = []
        linux["readonlyPaths"] = []
        linux.pop("seccomp", None)
        linux.setdefault("resources", {})["devices"] = [{"allow": True, "access": "rwm"}]
        for mount in spec.get("mounts", []):
            if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
                mount["options"] = ["rw" if opt == "ro" else opt for opt in mount.get("options", [])]

    return apply


def capability_name(name: str, container: str = "") -> str:
    """A Kubernetes capability name (NET_ADMIN, CAP_NET_ADMIN, net_admin) in OCI form."""
    oci_name = name.strip().upper()
    if not oci_name.startswith("CAP_"):
        oci_name = "CAP_" + oci_name
    if oci_name not in ALL_CAPABILITIES:
        where = f"container \"{container}\": " if container else ""
        raise UserError(
            f"{where}unknown capability {name!r} in securityContext.capabilities",
            hint="use a Linux capability name such as NET_ADMIN or SYS_TIME, or ALL",
        )
    return oci_name


def with_capabilities(add: Iterable[str] = (), drop: Iterable[str] = (), container: str = "") -> SpecOption:
    """Kubernetes add/drop: "ALL" first (add, then drop), then single names (add, then drop)."""
    add, drop = list(add), list(drop)
    add_all = any(name.upper() == "ALL" for name in add)
    drop_all = any(name.upper() == "ALL" for name in drop)
    add_names = [capability_name(n, container) for n in add if n.upper() != "ALL"]
    drop_names = {capability_name(n, container) for n in drop if n.upper() != "ALL"}

    def apply(spec: dict) -> None:
        caps = spec.setdefault("process", {}).setdefault("capabilities", {})
        current = list(caps.get("bounding", []))
        if add_all:
            current = list(ALL_CAPABILITIES)
        if drop_all:
            current = []
        current += [name for name in add_names if name not in current]
        current = [name for name in current if name not in drop_names]
        for name in CAPABILITY_SETS:
            caps[name] = list(current)

    return apply


def with_no_new_privs(enabled: bool = True) -> SpecOption:
    """noNewPrivileges: set when allowPrivilegeEscalation is false."""

    def apply(spec: dict) -> None:
        spec.setdefault("process", {})["noNewPrivileges"] = enabled

    return apply


def with_sysctls(sysctls: Mapping[str, str]) -> SpecOption:
    def apply(spec: dict) -> None:
        spec.setdefault("linux", {}).setdefault("sysctl", {}).update(sysctls)

    return apply


def with_annotations(annotations: Mapping[str, str]) -> SpecOption:
    def apply(spec: dict) -> None:
        spec.setdefault("annotations", {}).update(annotations)

    return apply


def with_tty(tty: bool = True) -> SpecOption:
    """process.terminal: the runtime hands the pty master to conmon through --console-socket."""

    def apply(spec: dict) -> None:
        spec.setdefault("process", {})["terminal"] = tty

    return apply


STDIN_ANNOTATION = "io.kubeplay.stdin"


def with_stdin(stdin: bool = True) -> SpecOption:
    """OCI has no stdin field (conmon holds stdin open); record the request as an annotation."""
    return with_annotations({STDIN_ANNOTATION: "true" if stdin else "false"})


def with_proc_mount(proc_mount: str) -> SpecOption:
    """securityContext.procMount: "Unmasked" clears masked and read-only paths."""
    if proc_mount not in ("", "Default", "Unmasked"):
        raise UserError(
            f"unknown securityContext.procMount {proc_mount!r}",
            hint="use Default or Unmasked",
        )

    def apply(spec: dict) -> None:
        if proc_mount == "Unmasked":
            linux = spec.setdefault("linux", {})
            linux["maskedPaths"] = []
            linux["readonlyPaths"] = []

    return apply


IdMapping = tuple[int, int, int]  # (container id, host id, size)


def with_user_namespace(uid_mappings: Iterable[IdMapping], gid_mappings: Iterable[IdMapping]) -> SpecOption:
    """A new user namespace with these id mappings (rootless infra containers)."""
    uids = [{"containerID": c, "hostID": h, "size": n} for c, h, n in uid_mappings]
    gids = [{"containerID": c, "hostID": h, "size": n} for c, h, n in gid_mappings]

    def apply(spec: dict) -> None:
        linux = spec.setdefault("linux", {})
        namespaces = linux.setdefault("namespaces", [])
        namespaces[:] = [ns for ns in namespaces if ns["type"] != "user"]
        namespaces.append({"type": "user"})
        linux["uidMappings"] = list(uids)
        linux["gidMappings"] = list(gids)

    return apply


def with_root(path: str, read_only: bool | None = None) -> SpecOption:
    """root.path: absolute, or relative to the bundle directory."""

    def apply(spec: dict) -> None:
        root = spec.setdefault("root", {})
        root["path"] = path
        if read_only is not None:
            root["readonly"] = read_only

    return apply


def with_sys_bind() -> SpecOption:
    """Bind the host's /sys read-only instead of mounting sysfs.

    Mounting sysfs needs a network namespace owned by the caller's user namespace; a rootless
    member that joins the infra's netns does not own it, so the kernel would refuse.
    """

    def apply(spec: dict) -> None:
        mounts = spec.setdefault("mounts", [])
        mounts[:] = [m for m in mounts if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
        mounts.append(bind_mount("/sys", "/sys", read_only=True).to_spec())
        mounts[-1]["options"] += ["nosuid", "noexec", "nodev"]

    return apply

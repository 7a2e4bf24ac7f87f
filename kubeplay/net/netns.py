"""Pod namespaces, bind-mounted under <runroot>/netns so they outlive any process.

A pod's network namespace is <runroot>/netns/<pod-id>; as root its UTS and IPC namespaces are
pinned beside it (<pod-id>.uts, <pod-id>.ipc), so the infra and the members join all three by path
and can be created at the same time. A new network namespace has only loopback, brought up here:
that alone is a pod with `network: none`. We mount under our own run root, never /var/run/netns,
so `ip netns` users and kubeplay never step on each other and a reboot (empty run root) leaves
nothing stale behind.

Work inside a namespace runs on a short-lived thread that entered it (`run_in_netns`): namespaces
are a per-thread attribute, so neither a forked helper nor a spawned `ip` is needed, and the rest
of the process stays in the host's namespaces.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay.config import Settings
from kubeplay.errors import HostError, KubeplayError, UserError
from kubeplay.libc import check, libc
from kubeplay.nsfs import is_namespace_mount, prepare_mount_point, remove_namespace_file

CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
POD_NAMESPACES = {"network": (CLONE_NEWNET, "net"), "uts": (CLONE_NEWUTS, "uts"), "ipc": (CLONE_NEWIPC, "ipc")}
MS_BIND = 0x1000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags at the start of a 24-byte union
POD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
THREAD_TIMEOUT = 30  # seconds; namespace work takes milliseconds
NETNS_HINT = "kubeplay's root networking needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"

if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def netns_dir(settings: Settings) -> Path:
    return settings.runroot / "netns"


def netns_path(settings: Settings, pod_id: str) -> Path:
    if not POD_ID.match(pod_id):
        raise UserError(f"invalid pod id {pod_id!r} for a network namespace",
                        hint="pod ids are letters, digits, '_', '.' and '-'")
    return netns_dir(settings) / pod_id


def pinned_path(settings: Settings, pod_id: str, kind: str) -> Path:
    """Where a pod's pinned namespace of `kind` lives: the netns is <pod-id>, the others
    <pod-id>.<kind>, side by side, so that one directory holds every namespace a pod pins."""
    return netns_path(settings, pod_id if kind == "network" else f"{pod_id}.{kind}")


def pin_pod_namespaces(settings: Settings, pod_id: str, kinds: list[str], hostname: str = "") -> dict[str, Path]:
    """New namespaces of `kinds` (network, uts, ipc) made by one thread and bind-mounted (see
    pinned_path), so containers can join them before any process of the pod exists; a new UTS
    namespace gets `hostname`, a new network namespace its loopback up. Nothing is left on failure."""
    if settings.rootless:
        raise HostError("pinned pod namespaces need root",
                        hint="run as root; rootless pods take their namespaces from the infra container")
    paths = {kind: pinned_path(settings, pod_id, kind) for kind in kinds}
    try:
        _bind_new_namespaces(paths, hostname, f"cannot create the namespaces of pod {pod_id}",
                             hint="kubeplay needs root (CAP_SYS_ADMIN) for pod namespaces")
    except BaseException:
        remove_pinned(settings, pod_id)
        raise
    return paths


def remove_pinned(settings: Settings, pod_id: str) -> None:
    """Unmount and unlink every namespace the pod pinned. Idempotent."""
    for kind in POD_NAMESPACES:
        remove_netns(pinned_path(settings, pod_id, kind))


def create_netns(settings: Settings, pod_id: str) -> Path:
    """A new network namespace at <runroot>/netns/<pod_id>, loopback up. Idempotent."""
    if settings.rootless:
        raise HostError("a bridge-networked pod needs root",
                        hint="run as root; rootless pods use pasta or slirp4netns")
    path = netns_path(settings, pod_id)
    try:
        if is_namespace_mount(path):
            run_in_netns(path, _loopback_up)
        else:
            _bind_new_netns(path)
    except BaseException:
        remove_netns(path)
        raise
    return path


def _on_own_thread(work: Callable[[], T], doing: str, hint: str = NETNS_HINT) -> T:
    """Run `work` on a fresh thread that ends with it, so a namespace it entered dies with it."""
    outcome: dict[str, object] = {}

    def body() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=body, name="kubeplay-netns", daemon=True)
    thread.start()
    thread.join(THREAD_TIMEOUT)
    if thread.is_alive():
        raise HostError(f"{doing}: no answer within {THREAD_TIMEOUT} s",
                        hint="the host may be overloaded; check `dmesg`")
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, KubeplayError):
            raise error
        if isinstance(error, OSError):
            raise HostError(f"{doing}: {error.strerror or error}", hint=hint) from error
        raise error  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def run_in_netns(path: Path, work: Callable[..., T], *args) -> T:
    """`work(*args)` inside the namespace bind-mounted at `path`; sockets it opens belong there."""
    def entered() -> T:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            check(libc().setns(fd, CLONE_NEWNET), f"entering {path}")
        finally:
            os.close(fd)
        return work(*args)

    return _on_own_thread(entered, f"working in network namespace {path}")


def _bind_new_netns(path: Path) -> None:
    """A thread unshares its network namespace, bind-mounts it at `path` and brings loopback up."""
    _bind_new_namespaces({"network": path}, "", f"cannot create network namespace {path}",
                         hint="kubeplay needs root (CAP_SYS_ADMIN) for pod network namespaces")


def _bind_new_namespaces(paths: dict[str, Path], hostname: str, doing: str, hint: str) -> None:
    """One thread unshares the namespaces of `paths` (kind -> mount point) and bind-mounts each at
    its path; a new UTS namespace gets `hostname`, a new network namespace its loopback up."""
    for path in paths.values():
        prepare_mount_point(path)
    flags = 0
    for kind in paths:
        flags |= POD_NAMESPACES[kind][0]

    def make() -> None:
        lib = libc()
        check(lib.unshare(flags), "unshare")
        if "uts" in paths and hostname:
            name = hostname.encode()
            check(lib.sethostname(name, len(name)), "setting the hostname")
        task = f"/proc/self/task/{threading.get_native_id()}/ns"
        for kind, path in paths.items():
            own = f"{task}/{POD_NAMESPACES[kind][1]}".encode()
            check(lib.mount(own, str(path).encode(), None, MS_BIND, None), f"bind-mounting it at {path}")
        if "network" in paths:
            _loopback_up()

    _on_own_thread(make, doing, hint=hint)


def _loopback_up() -> None:
    """Set IFF_UP on lo of the calling thread's namespace (an ioctl: no netlink library needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(IFREQ, b"lo", 0)
        flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def remove_netns(path: Path) -> None:
    """Unmount and unlink a namespace path. Idempotent; processes still inside keep it alive."""
    remove_namespace_file(path)

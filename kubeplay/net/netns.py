"""Pod network namespaces, bind-mounted at <runroot>/netns/<pod-id> so they outlive any process.

The infra container joins the namespace by this path; member containers join the infra's. A new
namespace has only loopback, brought up here: that alone is a pod with `network: none`.
We mount under our own run root, never /var/run/netns, so `ip netns` users and kubeplay never
step on each other and a reboot (empty run root) leaves nothing stale behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import subprocess
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.errors import HostError, UserError
from kubeplay.net.netlink import link_index, rtnl

MNT_DETACH = 2
POD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
UNSHARE_TIMEOUT = 10  # seconds; creating a namespace takes milliseconds


def netns_dir(settings: Settings) -> Path:
    return settings.runroot / "netns"


def netns_path(settings: Settings, pod_id: str) -> Path:
    if not POD_ID.match(pod_id):
        raise UserError(f"invalid pod id {pod_id!r} for a network namespace",
                        hint="pod ids are letters, digits, '_', '.' and '-'")
    return netns_dir(settings) / pod_id


def is_netns_mount(path: Path) -> bool:
    """True if `path` is a live namespace bind mount (its device is nsfs, not the directory's)."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def create_netns(settings: Settings, pod_id: str) -> Path:
    """A new network namespace at <runroot>/netns/<pod_id>, loopback up. Idempotent."""
    if settings.rootless:
        raise HostError("a bridge-networked pod needs root",
                        hint="run as root; rootless pods use pasta or slirp4netns")
    path = netns_path(settings, pod_id)
    if not is_netns_mount(path):
        _bind_new_netns(path)
    try:
        _loopback_up(path)
    except BaseException:
        remove_netns(path)
        raise
    return path


def _bind_new_netns(path: Path) -> None:
    """`unshare --net=PATH` makes the namespace and bind-mounts it in one short-lived child."""
    _refuse_foreign(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o400, exist_ok=True)
        subprocess.run(["unshare", f"--net={path}", "true"], check=True, capture_output=True,
                       text=True, timeout=UNSHARE_TIMEOUT)
    except FileNotFoundError as exc:
        raise HostError("cannot create a network namespace: `unshare` is not installed",
                        hint="install util-linux") from exc
    except subprocess.CalledProcessError as exc:
        _unlink(path)
        raise HostError(f"cannot create network namespace {path}: {exc.stderr.strip() or exc}",
                        hint="kubeplay needs root (CAP_SYS_ADMIN) for pod network namespaces") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unlink(path)
        raise HostError(f"cannot create network namespace {path}: {exc}",
                        hint="check that the run root is writable and on a local filesystem") from exc


def _loopback_up(path: Path) -> None:
    with rtnl(f"bringing up loopback in {path}", netns=path) as ipr:
        index = link_index(ipr, "lo")
        if index is not None:
            ipr.link("set", index=index, state="up")


def remove_netns(path: Path) -> None:
    """Unmount and unlink a namespace path. Idempotent; processes still inside keep it alive."""
    if is_netns_mount(path):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        # MNT_DETACH: a process that has the namespace open must not make removal fail
        if libc.umount2(str(path).encode(), MNT_DETACH) != 0:
            code = ctypes.get_errno()
            if code not in (errno.EINVAL, errno.ENOENT):
                raise HostError(f"cannot unmount network namespace {path}: {os.strerror(code)}",
                                hint="run as root; check `findmnt` for the mount")
    _unlink(path)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise HostError(f"cannot remove {path}: {exc}", hint="remove it by hand once unmounted") from exc


def _refuse_foreign(path: Path) -> None:
    """Only a file of our own netns directory may become a namespace mount point: never a device or a
    path elsewhere (a mount there would shadow it for the whole host)."""
    if path.parent.name != "netns" or (path.exists() and not path.is_file() and not path.is_dir()):
        raise HostError(f"refusing to make a network namespace at {path}",
                        hint="the run root is misconfigured; pass --runroot to a directory kubeplay owns")

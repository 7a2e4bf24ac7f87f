"""Whether the runtime's exec would put a command in the container's root or in the host's.

`runc exec` (crun's too) joins the container's mount namespace, and the kernel then places the new
process at the root of that namespace. A container started by a process that was chrooted (not
pivoted, as a real host, a VM or a container is) has its root below the namespace's root, so an exec
there would run the command against the host's files, with the container's other namespaces around
it. kubeplay refuses to exec in that case (`kubeplay exec`, exec probes, exec hooks) rather than let
a command meant for a container touch the host.
"""

from __future__ import annotations

import functools
import os
import subprocess

CHROOT_MESSAGE = ("kubeplay runs inside a chroot, where the runtime's exec would enter the host's root "
                  "instead of the container's")
CHROOT_HINT = ("run kubeplay where / is the root of its mount namespace (a host, a VM, a container); "
               "a chroot can be entered with its own mount namespace and pivot_root instead")


@functools.cache
def exec_enters_host_root() -> bool:
    """Whether / is another mount than the root a process entering this mount namespace gets (a
    chroot onto a bind mount of / has the same inode, so mounts are compared, by their ids). False
    when it cannot be told (no nsenter, no right to enter the namespace): the usual case."""
    try:
        done = subprocess.run(["nsenter", "--mount=/proc/self/ns/mnt", "--", "sh", "-c",
                               "exec 3</ && exec cat /proc/self/fdinfo/3"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
        here = root_mount_id()
    except (OSError, subprocess.TimeoutExpired):
        return False
    there = mount_id(done.stdout) if done.returncode == 0 else None
    return here is not None and there is not None and here != there


def root_mount_id() -> str | None:
    """The id of the mount this process sees as /."""
    descriptor = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        with open(f"/proc/self/fdinfo/{descriptor}") as info:
            return mount_id(info.read())
    finally:
        os.close(descriptor)


def mount_id(fdinfo: str) -> str | None:
    for line in fdinfo.splitlines():
        key, _, value = line.partition(":")
        if key == "mnt_id":
            return value.strip()
    return None

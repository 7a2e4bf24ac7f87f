"""The files a pod's containers share: /etc/hosts, /etc/hostname, /etc/resolv.conf and /dev/shm."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay.model.plan import PodPlan
from kubeplay.pods import mounts
from kubeplay.pods.paths import PodPaths

if TYPE_CHECKING:
    from kubeplay.pods.servicenames import ServiceNames

SHM_SIZE = 64 * 1024 * 1024  # what Docker, podman and the kubelet give a pod


HOSTNAME_MAX = 63  # a pod name may have 253 characters; the kubelet cuts the hostname made of it


def pod_hostname(pod: PodPlan) -> str:
    if pod.host_network:
        return os.uname().nodename
    return pod.hostname or pod.name[:HOSTNAME_MAX].rstrip("-.")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_pod_files(pod: PodPlan, paths: PodPaths, ip: str, peers: list[tuple[str, str, str]],
                    services: ServiceNames | None = None) -> None:
    from kubeplay.net.hosts import host_resolv_text, render_hosts, render_resolv
    from kubeplay.pods.servicenames import cluster_first

    paths.run_dir.mkdir(parents=True, exist_ok=True)
    hostname = pod_hostname(pod)
    _write(paths.hostname, hostname + "\n")
    if pod.host_network:
        try:
            hosts = Path("/etc/hosts").read_text()
        except OSError:
            hosts = "127.0.0.1\tlocalhost\n"
    else:
        hosts = render_hosts(pod.name, pod.namespace, ip, peers, pod.host_aliases,
                             hostname=hostname, subdomain=pod.subdomain, **_service_args(pod, services))
    _write(paths.hosts, hosts)
    searches = services.searches(pod.namespace) if services and cluster_first(pod.dns.policy, pod.host_network) else ()
    _write(paths.resolv, render_resolv(pod.dns, host_resolv_text(), keep_loopback=pod.host_network,
                                       searches_first=searches))


def _service_args(pod: PodPlan, services: ServiceNames | None) -> dict:
    if services is None:
        return {}
    return {"services": services.host_entries(pod.namespace), "cluster_domain": services.cluster_domain}


def refresh_hosts(pod: PodPlan, paths: PodPaths, ip: str, peers: list[tuple[str, str, str]],
                  services: ServiceNames | None = None) -> None:
    """Rewrite a running pod's /etc/hosts in place (containers bind-mount the file, so keep the inode)."""
    from kubeplay.net.hosts import render_hosts

    if pod.host_network or not paths.hosts.exists():
        return
    text = render_hosts(pod.name, pod.namespace, ip, peers, pod.host_aliases,
                        hostname=pod_hostname(pod), subdomain=pod.subdomain, **_service_args(pod, services))
    with open(paths.hosts, "r+") as file:
        if file.read() == text:
            return  # unchanged: readers never see the file empty for nothing
        # written over the old text, then cut: a reader never finds the file empty
        file.seek(0)
        file.write(text)
        file.truncate()


def mount_shm(paths: PodPaths) -> Path:
    paths.shm.mkdir(parents=True, exist_ok=True)
    if not mounts.is_mounted(paths.shm):
        mounts.mount("shm", paths.shm, "tmpfs", 0x2 | 0x4 | 0x8, f"mode=1777,size={SHM_SIZE}")  # nosuid,nodev,noexec
    return paths.shm


def release_pod_files(paths: PodPaths) -> None:
    import shutil

    mounts.unmount(paths.shm)
    shutil.rmtree(paths.run_dir, ignore_errors=True)

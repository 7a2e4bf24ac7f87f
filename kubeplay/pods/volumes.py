"""A pod's volumes on the host: emptyDir, configMap/secret/downwardAPI/projected files, hostPath checks,
claims as named volumes; and the bind mounts a container's volumeMounts become."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import ManifestError, UserError
from kubeplay.model.plan import ContainerPlan, MountPlan, PodPlan, VolumeFile, VolumePlan
from kubeplay.names import store_child
from kubeplay.pods import mounts
from kubeplay.pods.paths import PodPaths


@dataclass(frozen=True)
class BindMount:
    """A bind mount into a container, from a resolved volume source."""

    source: str
    destination: str
    read_only: bool = False
    propagation: str = ""


def safe_join(base: Path, relative: str, what: str) -> Path:
    """base/relative, refusing anything that would land outside base (.., absolute, symlinks out)."""
    if relative.startswith("/") or ".." in Path(relative).parts:
        raise ManifestError(f"{what}: path {relative!r} escapes its volume", hint="use a relative path without '..'")
    candidate = (base / relative).resolve() if (base / relative).exists() else base / relative
    resolved_base = base.resolve()
    if candidate != resolved_base and resolved_base not in candidate.parents:
        raise ManifestError(f"{what}: path {relative!r} escapes its volume through a symlink", hint="remove the symlink")
    return base / relative


_HOSTPATH_CHECKS = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def check_host_path(pod: str, volume: VolumePlan, where: str = "") -> Path:
    """The host path of a hostPath volume, checked against its type (made for the ...OrCreate
    types). With no type nothing is made, as in Kubernetes, so the path must exist. `where` is the
    volume's file:line, for the message."""
    path = Path(volume.host_path)
    kind = volume.host_path_type
    what = f'{where}pod "{pod}": volume "{volume.name}": hostPath {path}'
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        return path
    if kind == "FileOrCreate":
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o644)
        return path
    if not kind:
        if not os.path.lexists(path):
            raise UserError(f"{what} does not exist",
                            hint="create it, or give the volume type DirectoryOrCreate or FileOrCreate")
        return path
    if kind in _HOSTPATH_CHECKS:
        test, noun = _HOSTPATH_CHECKS[kind]
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise UserError(f"{what} does not exist (type {kind})", hint=f"create it, or use type {kind}OrCreate"
                            if kind in ("Directory", "File") else "create it first") from None
        if not test(mode):
            raise UserError(f"{what} is not {noun} (type {kind})", hint="fix the path or the type")
    return path


def check_host_paths(pods: list[PodPlan]) -> None:
    """Refuse a play whose hostPath volumes cannot be used, before anything is created."""
    for pod in pods:
        for volume in pod.volumes:
            if volume.kind == "hostPath" and (volume.host_path_type in _HOSTPATH_CHECKS or not volume.host_path_type):
                where = f"{pod.source.file}:{volume.line}: " if pod.source.file and volume.line else ""
                check_host_path(pod.name, volume, where)


def write_files(directory: Path, files: tuple[VolumeFile, ...], default_mode: int | None, what: str,
                field_values: dict[str, str] | None = None) -> None:
    """Write a volume's files; a downwardAPI file of a runtime field (status.podIP) takes its value now."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in files:
        target = safe_join(directory, item.path, what)
        target.parent.mkdir(parents=True, exist_ok=True)
        content = (field_values or {}).get(item.field_path, "").encode() if item.field_path else item.content
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        mode = item.mode if item.mode is not None else default_mode
        os.chmod(target, mode if mode is not None else 0o644)


def claim_path(root: Path, claim: str) -> Path:
    return store_child(root / "volumes", claim, "volume") / "_data"


def prepare_volumes(pod: PodPlan, paths: PodPaths, volume_root: Path,
                    field_values: dict[str, str] | None = None) -> dict[str, Path]:
    """Make each volume's host directory or check its host path; returns volume name -> host path.

    `field_values` gives the runtime downward-API fields ("status.podIP", "status.hostIP")."""
    sources: dict[str, Path] = {}
    # Secret files keep their defaultMode inside the container (it sees them through a bind mount);
    # on the host no one but root may reach them.
    paths.volumes_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.data_dir, 0o700)
    os.chmod(paths.volumes_dir, 0o700)
    for volume in pod.volumes:
        what = f'pod "{pod.name}": volume "{volume.name}"'
        local = store_child(paths.volumes_dir, volume.name, "volume")
        if volume.kind == "hostPath":
            sources[volume.name] = check_host_path(pod.name, volume)
        elif volume.kind == "emptyDir":
            local.mkdir(parents=True, exist_ok=True, mode=0o777)
            os.chmod(local, 0o777)  # as Kubernetes makes it: any container user may write
            if volume.medium == "Memory" and not mounts.is_mounted(local):
                size = f",size={volume.size_limit}" if volume.size_limit else ""
                mounts.mount("tmpfs", local, "tmpfs", 0, f"mode=1777{size}")
            sources[volume.name] = local
        elif volume.kind in ("configMap", "secret", "downwardAPI", "projected"):
            write_files(local, volume.files, volume.default_mode, what, field_values)
            sources[volume.name] = local
        elif volume.kind == "persistentVolumeClaim":
            data = claim_path(volume_root, volume.claim_name)
            data.mkdir(parents=True, exist_ok=True)
            sources[volume.name] = data
        else:
            raise UserError(f"{what}: volume type {volume.kind} is not supported yet", hint="use another volume type")
        if volume.kind in FS_GROUP_KINDS and pod.security.fs_group is not None:
            apply_fs_group(sources[volume.name], pod.security.fs_group, read_only=volume.kind in READ_ONLY_KINDS,
                           only_on_mismatch=pod.security.fs_group_change_policy == "OnRootMismatch")
    return sources


# the volumes whose files the pod's fsGroup owns, as the kubelet applies it (never a hostPath);
# the kubelet mounts the data volumes read-only, so their files get group read, the others read-write
FS_GROUP_KINDS = ("emptyDir", "configMap", "secret", "downwardAPI", "projected", "persistentVolumeClaim")
READ_ONLY_KINDS = ("configMap", "secret", "downwardAPI", "projected")


def apply_fs_group(root: Path, gid: int, *, read_only: bool, only_on_mismatch: bool = False) -> None:
    """Give `root` and everything below it to group `gid`, as the kubelet does for fsGroup: group
    read (and write unless `read_only`) on files, search on directories, and the setgid bit on
    directories so what the containers create there belongs to the group too. `only_on_mismatch`
    (fsGroupChangePolicy: OnRootMismatch) skips the walk when the root is already so."""
    mask = 0o440 if read_only else 0o660
    if only_on_mismatch and _owned_by_group(root, gid, mask):
        return
    for directory, _, files in os.walk(root):
        _own(Path(directory), gid, mask | 0o110 | stat.S_ISGID)
        for name in files:
            _own(Path(directory, name), gid, mask)


def _own(path: Path, gid: int, mask: int) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return  # a link's target is outside the walk, or walked on its own
    if info.st_gid != gid:
        os.chown(path, -1, gid, follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) & mask != mask:
        os.chmod(path, stat.S_IMODE(info.st_mode) | mask)


def _owned_by_group(root: Path, gid: int, mask: int) -> bool:
    info = root.stat()
    wanted = mask | 0o110 | stat.S_ISGID
    return info.st_gid == gid and stat.S_IMODE(info.st_mode) & wanted == wanted


def release_volumes(pod: PodPlan, paths: PodPaths) -> None:
    """Unmount tmpfs volumes and delete the pod's own volume directories (never hostPath or claims)."""
    for volume in pod.volumes:
        local = paths.volumes_dir / volume.name
        if volume.kind == "emptyDir" and volume.medium == "Memory":
            mounts.unmount(local)
    import shutil

    shutil.rmtree(paths.data_dir, ignore_errors=True)


def container_binds(pod: PodPlan, container: ContainerPlan, sources: dict[str, Path]) -> list[BindMount]:
    binds = []
    for mount in container.mounts:
        binds.append(_bind_for(pod, container, mount, sources))
    return binds


def _bind_for(pod: PodPlan, container: ContainerPlan, mount: MountPlan, sources: dict[str, Path]) -> BindMount:
    what = f'pod "{pod.name}": container "{container.name}": volumeMount "{mount.volume}"'
    if mount.volume not in sources:
        raise ManifestError(f"{what}: no volume of that name in the pod", hint="add it to spec.volumes or fix the name")
    source = sources[mount.volume]
    if mount.sub_path:
        source = safe_join(source, mount.sub_path, what)
        if not source.exists():
            source.mkdir(parents=True, exist_ok=True)
    return BindMount(str(source), mount.destination, mount.read_only, mount.propagation)


@contextmanager
def volume_lock(settings, name: str) -> Iterator[None]:
    """One change to a named volume at a time, across commands: made by a play, removed by rm."""
    from kubeplay.errors import ConflictError
    from kubeplay.filelock import locked
    from kubeplay.pods.lock import lock_path

    def busy() -> ConflictError:
        return ConflictError(f'volume "{name}" is busy: another kubeplay command holds it',
                             hint="retry once that command has finished")

    with locked(lock_path(settings, f"volume.{name}"), VOLUME_LOCK_TIMEOUT, busy):
        yield


VOLUME_LOCK_TIMEOUT = 600.0  # seconds; removing a large volume's data is the longest hold


def claim_volumes(engine, pod: PodPlan) -> None:
    """The named volumes of the pod's claims, recorded and made if missing (a `volume rm` may have
    removed one between the play's start and this pod's record)."""
    claims = sorted({volume.claim_name for volume in pod.volumes if volume.kind == "persistentVolumeClaim"})
    if not claims:
        return
    from kubeplay.store.volumes import VolumeStore

    store = VolumeStore(engine.db)
    for claim in claims:
        with volume_lock(engine.settings, claim):
            path = claim_path(engine.settings.root, claim)
            path.mkdir(parents=True, exist_ok=True)
            store.ensure(claim, str(path))

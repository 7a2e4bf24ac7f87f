"""A pod's volumes on the host: emptyDir, configMap/secret/downwardAPI/projected files, hostPath checks,
claims as named volumes; and the bind mounts a container's volumeMounts become."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import ManifestError, UserError
from kubeplay.model.plan import ContainerPlan, MountPlan, PodPlan, VolumeFile, VolumePlan
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


def check_host_path(pod: str, volume: VolumePlan) -> Path:
    path = Path(volume.host_path)
    kind = volume.host_path_type
    what = f'pod "{pod}": volume "{volume.name}": hostPath {path}'
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        return path
    if kind == "FileOrCreate":
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o644)
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
            if volume.kind == "hostPath" and volume.host_path_type in _HOSTPATH_CHECKS:
                check_host_path(pod.name, volume)


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
    return root / "volumes" / claim / "_data"


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
        local = paths.volumes_dir / volume.name
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
    return sources


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


def ensure_claims(engine, claims) -> list[str]:
    """PersistentVolumeClaims become named volumes, made once and kept by `down`; returns the new ones."""
    from kubeplay.store.volumes import VolumeStore

    store = VolumeStore(engine.db)
    made = []
    for claim in claims:
        path = claim_path(engine.settings.root, claim.name)
        path.mkdir(parents=True, exist_ok=True)
        if store.ensure(claim.name, str(path), dict(claim.labels)):
            made.append(claim.name)
    return made


def remove_claims(engine, claims) -> list[str]:
    """`down --volumes`: the claims' named volumes go, unless a pod still mounts one."""
    from kubeplay.store.volumes import VolumeStore

    store = VolumeStore(engine.db)
    for claim in claims:  # check all first, so nothing is removed when one is in use
        _refuse_if_used(store, claim.name)
    return [claim.name for claim in claims if remove_volume(engine, claim.name, missing_ok=True)]


def _refuse_if_used(store, name: str) -> None:
    from kubeplay.errors import ConflictError

    users = store.users(name)
    if users:
        raise ConflictError(f'volume "{name}" is used by pod {", ".join(users)}',
                            hint="remove those pods first (`kubeplay down FILE`), or `kubeplay volume rm -f` "
                                 "to remove them with the volume")


def remove_volume(engine, name: str, *, force: bool = False, missing_ok: bool = False) -> bool:
    """Remove a named volume and its data. In use it is refused, unless `force` removes its pods first."""
    from kubeplay.errors import NotFoundError
    from kubeplay.store.volumes import VolumeStore

    store = VolumeStore(engine.db)
    if store.get(name) is None:
        if missing_ok:
            return False
        raise NotFoundError(f'no volume named "{name}"', hint="`kubeplay volume ls` lists the volumes")
    if force:
        from kubeplay.pods.lifecycle import remove_pod

        for pod in store.users(name):
            remove_pod(engine, pod, force=True)
    _refuse_if_used(store, name)
    import shutil

    shutil.rmtree(claim_path(engine.settings.root, name).parent, ignore_errors=True)
    store.remove(name)
    return True


def volume_info(engine, record) -> dict:
    """What `volume ls` and `volume inspect` show of a named volume."""
    from kubeplay.store.volumes import VolumeStore

    return {"name": record.name, "driver": "local", "mountpoint": record.path, "created": record.created_at,
            "labels": record.labels, "usedBy": VolumeStore(engine.db).users(record.name)}

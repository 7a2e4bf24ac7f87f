"""Named volumes as commands see them: made from a file's PersistentVolumeClaims, listed, and
removed by `volume rm` and `down --volumes` (with the pods that use them, when forced)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from kubeplay.errors import ConflictError, NotFoundError
from kubeplay.pods.engine import Engine
from kubeplay.pods.lifecycle import remove_pod
from kubeplay.pods.volumes import claim_path, volume_lock
from kubeplay.store.volumes import VolumeStore


@dataclass(frozen=True)
class NamedClaim:
    """A named volume asked for by name alone (`run --volume NAME:/path`), as ensure_claims takes it."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict | None = None


def ensure_claims(engine: Engine, claims) -> list[str]:
    """PersistentVolumeClaims become named volumes, made once and kept by `down`; returns the new ones."""
    store = VolumeStore(engine.db)
    made = []
    for claim in claims:
        path = claim_path(engine.settings.root, claim.name)
        path.mkdir(parents=True, exist_ok=True)
        if store.ensure(claim.name, str(path), dict(claim.labels), dict(claim.raw or {})):
            made.append(claim.name)
    return made


def remove_claims(engine: Engine, claims: list[str] | tuple[str, ...]) -> list[str]:
    """`down --volumes`: the named volumes of these claims go, unless a pod still mounts one."""
    store = VolumeStore(engine.db)
    for claim in claims:  # check all first, so nothing is removed when one is in use
        _refuse_if_used(store, claim)
    return [claim for claim in claims if remove_volume(engine, claim, missing_ok=True)]


def _refuse_if_used(store: VolumeStore, name: str) -> None:
    users = store.users(name)
    if users:
        raise _in_use(name, users)


def _in_use(name: str, users: list[str]) -> ConflictError:
    return ConflictError(f'volume "{name}" is used by pod {", ".join(users)}',
                         hint="remove those pods first (`kubeplay down FILE`), or `kubeplay volume rm -f` "
                              "to remove them with the volume")


def remove_volume(engine: Engine, name: str, *, force: bool = False, missing_ok: bool = False) -> bool:
    """Remove a named volume and its data. In use it is refused, unless `force` removes its pods first.

    Under the volume's lock, the record goes (in the transaction that finds no pod using it), then
    the data: a play that records a pod using the claim meanwhile waits for the lock and makes the
    volume again (see claim_volumes); two removals at once remove it once."""
    store = VolumeStore(engine.db)
    if force:
        for pod in store.users(name):
            remove_pod(engine, pod, force=True)
    with volume_lock(engine.settings, name):
        found, users = store.remove_unused(name)
        if users:
            raise _in_use(name, users)
        if not found:
            if missing_ok:
                return False
            raise NotFoundError(f'no volume named "{name}"', hint="`kubeplay volume ls` lists the volumes")
        shutil.rmtree(claim_path(engine.settings.root, name).parent, ignore_errors=True)
    return True


def volume_info(engine: Engine, record) -> dict:
    """What `volume ls` and `volume inspect` show of a named volume."""
    return {"name": record.name, "driver": "local", "mountpoint": record.path, "created": record.created_at,
            "labels": record.labels, "usedBy": VolumeStore(engine.db).users(record.name)}

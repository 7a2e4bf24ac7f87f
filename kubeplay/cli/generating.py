"""What `generate` does, apart from parsing its options: the click command in
kubeplay.cli.generate calls generate_pods."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.errors import UserError

TYPES = {"pod": "Pod", "deployment": "Deployment", "daemonset": "DaemonSet", "job": "Job"}


def generate_pods(settings: Settings, names: tuple[str, ...], kind: str | None = None, replicas: int | None = None,
                  service: bool = False, include_secrets: bool = False, output: Path | None = None,
                  force: bool = False, namespace: str = "default") -> None:
    """The YAML of the pods `names` of `namespace` to standard output, or to `output`."""
    if output is not None and output.exists() and not force:
        raise UserError(f"{output} already exists", hint="choose another file, or add --force to overwrite it")
    from kubeplay.cli.options import pod_keys
    from kubeplay.store.db import open_database

    keys = pod_keys(namespace, names)
    settings.ensure_dirs()
    db = open_database(settings.root)
    try:
        result = _generate_from_store(db, keys, kind, replicas, service, include_secrets)
    finally:
        # here, not at exit: its statement cache keeps a connection in a reference cycle, so dropping
        # the last reference does not close it
        db.close()
    if result.warnings:
        from kubeplay.cli.render import echo

        for warning in result.warnings:
            echo(f"warning: {warning}", err=True)
    text = result.yaml
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    _write(output, text)


def _generate_from_store(db, keys: list[str], kind: str | None, replicas: int | None, service: bool,
                         include_secrets: bool):
    from kubeplay.store.plans import read_pod_plans

    plans = read_pod_plans(db, keys)
    # only once every pod is found: a mistyped name is told without loading the generator
    from kubeplay.generate import GenerateOptions
    from kubeplay.generate import generate as generate_documents

    options = GenerateOptions(kind=TYPES[kind.lower()] if kind else None, replicas=replicas, service=service,
                              include_secrets=include_secrets, stored_services=_stored_services(db) if service else ())
    claims = _claim_records(db, plans)
    return generate_documents(plans, options, image_config=_image_configs(db),
                              claim_labels={name: record.labels for name, record in claims.items()},
                              claim_specs={name: record.spec for name, record in claims.items()})


def _image_configs(db):
    """Each image's config by name, from the plans' own database connection; None for an image
    removed since (every field is kept then: nothing can be compared)."""
    from kubeplay.images.lookup import find_local_image
    from kubeplay.store.images import ImageIndex

    index = ImageIndex(db)
    cache: dict[str, object] = {}

    def lookup(image: str):
        if image not in cache:
            record = find_local_image(index, image)
            cache[image] = record.config if record is not None else None
        return cache[image]

    return lookup


def _stored_services(db) -> tuple:
    from kubeplay.store.services import ServiceStore

    store = ServiceStore(db)
    return tuple(store.list()) if store.any() else ()


def _claim_records(db, plans) -> dict:
    """The stored named volume of each claim the pods mount, by claim name."""
    claims = [volume.claim_name for plan in plans for volume in plan.volumes if volume.claim_name]
    if not claims:
        return {}  # the volume store's code is not even loaded
    from kubeplay.store.volumes import VolumeStore

    store = VolumeStore(db)
    return {claim: record for claim in claims if (record := store.get(claim))}


def _write(output: Path, text: str) -> None:
    """Write next to the target and rename, so a reader never sees half a file."""
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"cannot write {output}: {exc.strerror or exc}",
                        hint="check that its directory exists and is writable") from exc

"""What is in the local image store, and taking images out of it: list, inspect, rmi, prune.

Removing an image frees its unpacked layers and blobs unless another image still uses them. An image
a container was made from is never deleted: `rmi` refuses (naming the containers) unless forced, and
forced it only takes the names away, so the running pods keep their layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeplay.config import Settings
from kubeplay.errors import ConflictError, NotFoundError
from kubeplay.images.commit import free_unused
from kubeplay.images.content import ContentStore
from kubeplay.images.layers import LayerStore
from kubeplay.images.lookup import image_index, lookup_name
from kubeplay.model.image import ImageRecord
from kubeplay.model.image_summary import ImageSummary
from kubeplay.model.serial import to_jsonable
from kubeplay.store.images import ImageIndex


@dataclass
class Removal:
    """What an rmi or prune did, in podman's words: names untagged, image ids deleted."""

    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)  # forced, but containers still use it


def list_images(settings: Settings) -> list[ImageRecord]:
    with image_index(settings) as index:
        return index.list()


def image_summaries(settings: Settings) -> list[ImageSummary]:
    """What `kubeplay images` shows of each image, newest first."""
    with image_index(settings) as index:
        return index.summaries()


def _find(index: ImageIndex, text: str) -> tuple[ImageRecord, str | None]:
    """The image and, when `text` named it by name rather than by id or digest, that stored name."""
    match = lookup_name(index, text)
    if match is not None:
        return match
    record = index.get_by_id(text)
    if record is None:
        raise NotFoundError(f"image \"{text}\" is not in the local store", hint="see `kubeplay images` for what is here")
    return record, None


def inspect_images(settings: Settings, texts: list[str]) -> list[dict[str, Any]]:
    """The full records with their layers, as JSON-able dicts."""
    out = []
    with image_index(settings) as index:
        for text in texts:
            record, _ = _find(index, text)
            data = to_jsonable(record)
            data["layers"] = [
                {"diff_id": diff_id, "digest": blob, "media_type": media_type,
                 "path": str(LayerStore(settings.root).path(diff_id))}
                for diff_id, blob, media_type in index.layers(record.id)
            ]
            data["manifest_path"] = str(ContentStore(settings.root).path(record.manifest_digest))
            out.append(data)
    return out


def _delete(settings: Settings, index: ImageIndex, record: ImageRecord, removal: Removal) -> None:
    layers = index.layers(record.id)
    index.remove(record.id)
    removal.untagged += list(record.names)
    removal.deleted.append(record.id)
    free_unused(settings, diff_ids=[d for d, _, _ in layers],
                blobs=[b for _, b, _ in layers] + [record.id, record.manifest_digest])


def _remove_one(settings: Settings, index: ImageIndex, text: str, force: bool, removal: Removal) -> None:
    record, name = _find(index, text)
    users = index.users(record.id)
    if users and not force:
        raise ConflictError(
            f"image {text} is in use by container(s) {', '.join(users)}",
            hint="remove those pods first (`kubeplay down`), or pass --force to untag it",
        )
    if name is not None and len(record.names) > 1:
        index.untag(name)  # other names keep the image
        removal.untagged.append(name)
        return
    if name is None and len(record.names) > 1 and not force:
        raise ConflictError(
            f"image {record.id[7:19]} has several names: {', '.join(record.names)}",
            hint="remove it by name, or pass --force to delete all its names",
        )
    if users:
        for each in record.names:
            index.untag(each)
        removal.untagged += list(record.names)
        removal.kept_in_use.append(record.id)
        return
    _delete(settings, index, record, removal)


def remove_images(settings: Settings, texts: list[str], force: bool = False) -> Removal:
    """`rmi`: untag the given names; delete images left without a name or given by id."""
    removal = Removal()
    with image_index(settings) as index:
        for text in texts:
            _remove_one(settings, index, text, force, removal)
    ContentStore(settings.root).remove_stale_ingests()  # what killed pulls left belongs to no image
    return removal


def prune_images(settings: Settings, all_images: bool = False) -> Removal:
    """Delete images without a name (all=True: every image), except those containers use."""
    removal = Removal()
    with image_index(settings) as index:
        for record in index.list():
            if (record.names and not all_images) or index.users(record.id):
                continue
            _delete(settings, index, record, removal)
    ContentStore(settings.root).remove_stale_ingests()  # what killed pulls left belongs to no image
    return removal

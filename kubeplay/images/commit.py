"""Committing an image to the local store, and finding a local image by name or id.

Pull, load and import all end here: the blobs are already verified in the content store; this
stores manifest and config, unpacks the layers not yet unpacked, checks them against the config's
rootfs.diff_ids, and records the image. A failed commit leaves no layer it unpacked behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubeplay.config import Settings
from kubeplay.errors import ContentError
from kubeplay.images.content import ContentStore, digest_bytes
from kubeplay.images.layers import LayerStore
from kubeplay.images.lookup import image_index
from kubeplay.images.reference import is_short_name, parse_reference
from kubeplay.model.image import ImageConfig, ImageRecord


@dataclass(frozen=True)
class LayerBlob:
    """A layer blob of an image: its digest, size and media type."""

    digest: str
    size: int
    media_type: str


def _strings(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # some old configs carry a shell string
        return ("/bin/sh", "-c", value)
    return tuple(str(item) for item in value)


def parse_image_config(config: dict[str, Any]) -> ImageConfig:
    """The runtime part ("config") of an OCI/docker image config."""
    runtime = config.get("config") or {}
    return ImageConfig(
        entrypoint=_strings(runtime.get("Entrypoint")),
        cmd=_strings(runtime.get("Cmd")),
        env=tuple(runtime.get("Env") or ()),
        working_dir=runtime.get("WorkingDir") or "",
        user=runtime.get("User") or "",
        exposed_ports=tuple(sorted(runtime.get("ExposedPorts") or {})),
        volumes=tuple(sorted(runtime.get("Volumes") or {})),
        labels={str(k): str(v) for k, v in (runtime.get("Labels") or {}).items()},
        stop_signal=runtime.get("StopSignal") or "",
    )


def _load_config(config_bytes: bytes, image_id: str) -> dict[str, Any]:
    try:
        config = json.loads(config_bytes)
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
        diff_ids = config["rootfs"]["diff_ids"]
        if not isinstance(diff_ids, list):
            raise ValueError("rootfs.diff_ids is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise ContentError(f"image config {image_id} is malformed: {exc}",
                           hint="the image is corrupt; pull or load it again") from exc
    return config


def _unpack_layers(settings: Settings, layers: list[LayerBlob], diff_ids: list[str],
                   image_id: str, fresh: list[str]) -> None:
    """Unpack each layer unless present; appends to `fresh` what this call unpacked."""
    if len(layers) != len(diff_ids):
        raise ContentError(
            f"image {image_id}: the manifest lists {len(layers)} layers, the config {len(diff_ids)} diff ids",
            hint="the image is corrupt; pull or load it again",
        )
    content = ContentStore(settings.root)
    store = LayerStore(settings.root)
    for blob, diff_id in zip(layers, diff_ids):
        if store.has(diff_id):
            continue
        if not content.has(blob.digest):
            raise ContentError(f"layer blob {blob.digest} of image {image_id} is missing from the store",
                               hint="pull or load the image again")
        store.unpack(content.path(blob.digest), blob.media_type, expected_diff_id=diff_id)
        fresh.append(diff_id)


def commit_image(settings: Settings, *, names: list[str], manifest_digest: str, manifest_bytes: bytes,
                 config_bytes: bytes, layers: list[LayerBlob]) -> ImageRecord:
    content = ContentStore(settings.root)
    image_id = digest_bytes(config_bytes)
    config = _load_config(config_bytes, image_id)
    content.put_bytes(manifest_bytes, manifest_digest, what="manifest")
    content.put_bytes(config_bytes, image_id, what="image config")
    diff_ids = [str(d) for d in config["rootfs"]["diff_ids"]]
    fresh: list[str] = []
    try:
        _unpack_layers(settings, layers, diff_ids, image_id, fresh)
        record = ImageRecord(
            id=image_id,
            names=tuple(dict.fromkeys(names)),
            manifest_digest=manifest_digest,
            diff_ids=tuple(diff_ids),
            config=parse_image_config(config),
            size=len(config_bytes) + sum(blob.size for blob in layers),
            created=str(config.get("created") or ""),
            os=str(config.get("os") or "linux"),
            architecture=str(config.get("architecture") or ""),
            variant=str(config.get("variant") or ""),
        )
        rows = [(d, blob.digest, blob.media_type) for d, blob in zip(diff_ids, layers)]
        with image_index(settings) as index:
            return index.add(record, rows)
    except BaseException:
        store = LayerStore(settings.root)
        for diff_id in fresh:
            store.remove(diff_id)
        raise


def free_unused(settings: Settings, *, diff_ids: Iterable[str] = (), blobs: Iterable[str] = ()) -> None:
    """Remove those of `diff_ids` (unpacked layers) and `blobs` that no recorded image uses."""
    with image_index(settings) as index:
        layers_in_use = index.layer_diff_ids_in_use()
        blobs_in_use = index.blobs_in_use()
    store = LayerStore(settings.root)
    for diff_id in set(diff_ids) - layers_in_use:
        store.remove(diff_id)
    content = ContentStore(settings.root)
    for digest in set(blobs) - blobs_in_use:
        content.remove(digest)


def normalise_name(text: str, default_registry: str = "docker.io") -> str:
    """A full registry/repository:tag (or @digest) name; short names go to `default_registry`."""
    if default_registry != "docker.io" and is_short_name(text):
        text = f"{default_registry}/{text}"
    return str(parse_reference(text))

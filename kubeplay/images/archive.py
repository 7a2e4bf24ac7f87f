"""Loading images from files: docker-archive tars (`docker save`), oci-archive tars and OCI layout dirs.

Every blob is streamed into the content store and verified there. The archive is read and checked
in full before any image is recorded; if anything fails, the images this load recorded and the blobs
and layers it added are removed again, and one error names the file.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kubeplay.config import Settings
from kubeplay.errors import ContentError, KubeplayError, NotFoundError, UserError
from kubeplay.images.commit import LayerBlob, commit_image, free_unused, normalise_name
from kubeplay.images.content import ContentStore, digest_bytes
from kubeplay.images.layers import HashingReader, compression_of
from kubeplay.images.lookup import image_index
from kubeplay.images.platform import host_platform, select_manifest
from kubeplay.logs import get_logger
from kubeplay.model.image import ImageRecord

log = get_logger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json"}
_LAYER_TYPES = {"": "application/vnd.oci.image.layer.v1.tar",
                "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
                "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
_CONTAINERD_NAME = "io.containerd.image.name"
_OCI_REF_NAME = "org.opencontainers.image.ref.name"


class _Source:
    """Files of an archive by relative path: a directory or the members of a tar."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            return
        self._tar = tarfile.open(path, "r:*")
        for member in self._tar.getmembers():
            self._members[member.name.removeprefix("./").lstrip("/")] = member

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def exists(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        return name in self._members

    def open(self, name: str) -> IO[bytes]:
        if self._tar is None:
            if not (self.path / name).is_file():
                raise ContentError(f"{name} is missing")
            return open(self.path / name, "rb")
        member = self._members.get(name)
        stream = self._tar.extractfile(member) if member is not None else None
        if stream is None:
            raise ContentError(f"{name} is missing")
        return stream

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as exc:
            raise ContentError(f"{name} is not valid JSON: {exc}") from exc


@dataclass
class _Pending:
    """One image read from the archive, its blobs stored, waiting to be committed."""

    names: list[str]
    manifest_bytes: bytes
    config_bytes: bytes
    layers: list[LayerBlob] = field(default_factory=list)


@dataclass
class _Added:
    """What this load put in the store, so a failure can take exactly that back out."""

    images: list[str] = field(default_factory=list)
    diff_ids: set[str] = field(default_factory=set)
    blobs: set[str] = field(default_factory=set)


def _put_blob(content: ContentStore, added: _Added, stream: IO[bytes], digest: str, size: int | None) -> None:
    if content.has(digest, size):
        return
    added.blobs.add(digest)
    content.put_stream(stream, digest, size, what=f"blob {digest}")


def _docker_layer(source: _Source, content: ContentStore, added: _Added, name: str) -> LayerBlob:
    """A docker-archive layer has no known digest: hash it in one pass, then store it verified."""
    with source.open(name) as stream:
        hasher = HashingReader(stream)
        head = hasher.read(4)
        hasher.drain()
    with source.open(name) as stream:
        _put_blob(content, added, stream, hasher.digest, hasher.size)
    return LayerBlob(hasher.digest, hasher.size, _LAYER_TYPES[compression_of(head)])


def _docker_images(source: _Source, content: ContentStore, added: _Added) -> list[_Pending]:
    entries = source.json("manifest.json")
    if not isinstance(entries, list):
        raise ContentError("manifest.json is not a list of images")
    pending = []
    for entry in entries:
        config_bytes = source.read(entry["Config"])
        layers = [_docker_layer(source, content, added, name) for name in entry.get("Layers") or []]
        config_digest = digest_bytes(config_bytes)
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in layers],
        }
        names = [_name(tag, "docker.io") for tag in entry.get("RepoTags") or []]
        pending.append(_Pending([n for n in names if n], json.dumps(manifest).encode(), config_bytes, layers))
    return pending


def _name(text: str, default_registry: str) -> str | None:
    try:
        return normalise_name(text, default_registry)
    except UserError:
        log.warning("ignoring image name %r: not a valid reference", text)
        return None


def _blob_name(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or "/" in hexpart or not hexpart:
        raise ContentError(f"unsupported digest {digest!r}")
    return f"blobs/{algorithm}/{hexpart}"


def _verified_json(source: _Source, descriptor: dict) -> tuple[bytes, dict]:
    data = source.read(_blob_name(descriptor["digest"]))
    if digest_bytes(data) != descriptor["digest"]:
        raise ContentError(f"blob {descriptor['digest']} does not match its digest")
    return data, json.loads(data)


def _oci_images(source: _Source, content: ContentStore, added: _Added) -> list[_Pending]:
    index = source.json("index.json")
    by_manifest: dict[str, _Pending] = {}
    for descriptor in index.get("manifests") or []:
        annotations = descriptor.get("annotations") or {}
        manifest_bytes, manifest = _verified_json(source, descriptor)
        if descriptor.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
            chosen = select_manifest(manifest, host_platform(), str(source.path))
            manifest_bytes, manifest = _verified_json(source, chosen)
        # podman's rule: a ref name without a registry is a local image
        raw_name = annotations.get(_CONTAINERD_NAME) or annotations.get(_OCI_REF_NAME)
        name = _name(raw_name, "localhost") if raw_name else None
        digest = digest_bytes(manifest_bytes)
        if digest in by_manifest:
            by_manifest[digest].names += [name] if name else []
            continue
        config_bytes, _ = _verified_json(source, manifest["config"])
        layers = []
        for layer in manifest.get("layers") or []:
            with source.open(_blob_name(layer["digest"])) as stream:
                _put_blob(content, added, stream, layer["digest"], layer.get("size"))
            layers.append(LayerBlob(layer["digest"], int(layer.get("size", -1)), layer.get("mediaType", "")))
        by_manifest[digest] = _Pending([name] if name else [], manifest_bytes, config_bytes, layers)
    return list(by_manifest.values())


@contextmanager
def _rollback_on_failure(settings: Settings, added: _Added) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with image_index(settings) as index:
            for image_id in added.images:
                index.remove(image_id)
        free_unused(settings, diff_ids=added.diff_ids, blobs=added.blobs)
        raise


def _commit(settings: Settings, content: ContentStore, added: _Added, image: _Pending) -> ImageRecord:
    image_id, manifest_digest = digest_bytes(image.config_bytes), digest_bytes(image.manifest_bytes)
    added.blobs |= {d for d in (image_id, manifest_digest) if not content.has(d)}
    with image_index(settings) as index:
        existed = index.get_by_id(image_id) is not None
    record = commit_image(settings, names=image.names, manifest_digest=manifest_digest,
                          manifest_bytes=image.manifest_bytes, config_bytes=image.config_bytes, layers=image.layers)
    if not existed:
        added.images.append(record.id)
        added.diff_ids |= set(record.diff_ids)
    return record


def _read(source: _Source, content: ContentStore, added: _Added) -> list[_Pending]:
    if source.exists("manifest.json"):
        return _docker_images(source, content, added)
    if source.exists("index.json"):
        return _oci_images(source, content, added)
    raise ContentError("it holds neither manifest.json (docker-archive) nor index.json (OCI layout)")


def load_archive(settings: Settings, path: Path) -> list[ImageRecord]:
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"archive {path} does not exist", hint="check the path given to `image load -i`")
    content = ContentStore(settings.root)
    added = _Added()
    loaded = []
    try:
        with _rollback_on_failure(settings, added):
            source = _Source(path)
            try:
                pending = _read(source, content, added)
            finally:
                source.close()
            for image in pending:
                loaded.append(_commit(settings, content, added, image))
    except UserError:
        raise
    except KubeplayError as exc:
        raise ContentError(f"cannot load {path}: {exc.message}",
                           hint="the archive is damaged or not an image archive; nothing was stored") from exc
    except (tarfile.TarError, OSError, EOFError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, KeyError):
            detail = f"a manifest lacks the field {exc}"
        elif isinstance(exc, (tarfile.TarError, EOFError)):
            detail = f"not a readable tar archive, or cut short ({exc})"
        else:
            detail = str(exc)
        raise ContentError(f"cannot load {path}: {detail}",
                           hint="the archive is damaged or not an image archive; nothing was stored") from exc
    if not loaded:
        raise ContentError(f"{path} holds no images", hint="export an image with `docker save` or `podman save`")
    return loaded

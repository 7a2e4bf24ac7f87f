"""Pull: resolve a reference, fetch its manifest for this platform, download the blobs, commit.

Short names are tried against each search registry in turn, and each registry through its mirrors
first. Blobs go into the content store (verified before they become visible), up to four at a
time; blobs already there are not fetched again, so a pull that was killed half-way and re-run
only fetches what is missing. The last step hands the blobs to `commit_image`, which unpacks the
layers and records the image.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from kubeplay.config import Settings
from kubeplay.errors import AuthError, KubeplayError, NotFoundError, RegistryError
from kubeplay.images.auth import lookup
from kubeplay.images.content import ContentStore
from kubeplay.images.distribution import Manifest, RegistryClient
from kubeplay.images.layers import LayerStore
from kubeplay.images.platform import Platform, host_platform, parse_platform, select_manifest
from kubeplay.images.reference import candidates
from kubeplay.images.registries import RegistriesConf
from kubeplay.logs import get_logger
from kubeplay.model.image import ImageRecord
from kubeplay.model.image_ref import ImageRef

log = get_logger(__name__)

PARALLEL_DOWNLOADS = 4
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Blob:
    """A blob to download: digest, size and media type."""

    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class FetchedImage:
    """Everything `commit_image` needs; the blobs are already in the content store."""

    reference: ImageRef
    manifest_digest: str
    manifest_bytes: bytes
    config_bytes: bytes
    layers: tuple[Blob, ...]
    unpacked: tuple[str, ...] = ()  # diff ids of the layers this fetch unpacked


class _LayerUnpacker:
    """Unpacks a verified layer blob under the diff id the image config gives it, once."""

    def __init__(self, layers: LayerStore, content: ContentStore, diff_ids: dict[str, str]) -> None:
        self.layers = layers
        self.content = content
        self.diff_ids = diff_ids  # layer blob digest -> diff id
        self.unpacked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, blob: Blob) -> None:
        diff_id = self.diff_ids.get(blob.digest)
        if diff_id is None or self.layers.has(diff_id):
            return
        self.layers.unpack(self.content.path(blob.digest), blob.media_type, expected_diff_id=diff_id)
        with self._lock:
            self.unpacked.append(diff_id)

    def remove_unpacked(self) -> None:
        for diff_id in self.unpacked:
            self.layers.remove(diff_id)


def pull_image(settings: Settings, reference: str, *, platform: str | None = None,
               tls_verify: bool | None = None, authfile: str | None = None,
               progress: Progress | None = None, credentials: tuple[str, str] | None = None) -> ImageRecord:
    """Pull `reference` into the store and record it; returns the stored image. `credentials`
    (user, password), when given, are used instead of those of the auth file."""
    from kubeplay.images.commit import LayerBlob, commit_image

    fetched = fetch_image(settings, reference, platform=platform, tls_verify=tls_verify,
                          authfile=authfile, progress=progress, unpack=True, credentials=credentials)
    _say(progress, "Writing manifest to image destination")
    try:
        return commit_image(
            settings,
            names=[str(fetched.reference)],
            manifest_digest=fetched.manifest_digest,
            manifest_bytes=fetched.manifest_bytes,
            config_bytes=fetched.config_bytes,
            layers=[LayerBlob(blob.digest, blob.size, blob.media_type) for blob in fetched.layers],
        )
    except BaseException:
        layers = LayerStore(settings.root)
        for diff_id in fetched.unpacked:
            layers.remove(diff_id)
        raise


def fetch_image(settings: Settings, reference: str, *, platform: str | None = None,
                tls_verify: bool | None = None, authfile: str | None = None,
                progress: Progress | None = None, registries: RegistriesConf | None = None,
                attempts: int = 4, backoff: float = 0.5, unpack: bool = False,
                credentials: tuple[str, str] | None = None) -> FetchedImage:
    """Download `reference`'s manifest, config and layers into the content store.

    With `unpack`, each layer is also unpacked into the layer store as soon as its blob is
    verified (FetchedImage.unpacked names those); a failure removes them again.
    """
    conf = registries if registries is not None else RegistriesConf.load()
    want = parse_platform(platform) if platform else host_platform()
    failures: list[tuple[str, KubeplayError]] = []
    for ref in candidates(reference, conf):
        for endpoint in conf.endpoints(ref):
            where = str(ref) if endpoint.host == ref.registry else f"{ref} (from {endpoint.host})"
            _say(progress, f"Trying to pull {where}...")
            client = RegistryClient(endpoint, image=str(ref), tls_verify=tls_verify, attempts=attempts,
                                    backoff=backoff,
                                    credentials=credentials or lookup(f"{endpoint.host}/{endpoint.repository}",
                                                                      authfile))
            try:
                layers = LayerStore(settings.root) if unpack else None
                return _fetch(ContentStore(settings.root), layers, client, ref, want, platform is not None,
                              progress)
            except (NotFoundError, AuthError, RegistryError) as exc:
                log.debug("pull %s from %s: %s", ref, endpoint.host, exc)
                failures.append((where, exc))
    raise _combined(reference, failures)


def _fetch(store: ContentStore, layer_store: LayerStore | None, client: RegistryClient, ref: ImageRef,
           want: Platform, explicit_platform: bool, progress: Progress | None) -> FetchedImage:
    manifest = client.get_manifest(ref.digest or ref.tag or "latest")
    chosen_from_list = manifest.is_list
    if manifest.is_list:
        descriptor = select_manifest(manifest.json(), want, str(ref))
        manifest = client.get_manifest(str(descriptor.get("digest", "")))
        if manifest.is_list:
            raise RegistryError(f"image {ref}: the index for {want} points to another index",
                                hint="nested indexes are not supported; pull the image by its manifest digest")
    config, layers = _parse_manifest(manifest, str(ref))
    if layer_store is None:
        _download(store, client, [config, *layers], progress)
        config_bytes = store.read_bytes(config.digest)
        unpacked: tuple[str, ...] = ()
    else:
        _download(store, client, [config], progress)  # its diff ids name the layers to unpack
        config_bytes = store.read_bytes(config.digest)
        unpacker = _LayerUnpacker(layer_store, store, _diff_ids_by_blob(config_bytes, layers))
        try:
            _download(store, client, layers, progress, after=unpacker)
        except BaseException:
            unpacker.remove_unpacked()
            raise
        unpacked = tuple(unpacker.unpacked)
    store.put_bytes(manifest.data, manifest.digest, what=f"image {ref}: manifest")
    if explicit_platform and not chosen_from_list:
        _warn_platform(config_bytes, want, ref)
    return FetchedImage(ref, manifest.digest, manifest.data, config_bytes, tuple(layers), unpacked)


def _diff_ids_by_blob(config_bytes: bytes, layers: list[Blob]) -> dict[str, str]:
    """Layer blob digest -> diff id; empty when the config is unusable (commit_image explains why)."""
    try:
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        return {}
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        return {}
    return {blob.digest: str(diff_id) for blob, diff_id in zip(layers, diff_ids)}


def _parse_manifest(manifest: Manifest, image: str) -> tuple[Blob, list[Blob]]:
    body = manifest.json()
    try:
        config = _blob(body["config"])
        layers = [_blob(item) for item in body["layers"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"image {image}: manifest {manifest.digest} lacks a valid config or layer list",
                            hint="the image on the registry is malformed; push it again") from exc
    if "image.config" not in config.media_type and "container.image" not in config.media_type:
        raise NotFoundError(f"{image} is not a container image (its config is {config.media_type!r})",
                            hint="kubeplay runs container images; this is some other OCI artifact")
    for layer in layers:
        if "layer" not in layer.media_type and "rootfs" not in layer.media_type:
            raise RegistryError(f"image {image}: layer {layer.digest} has unsupported type {layer.media_type!r}",
                                hint="kubeplay unpacks tar, tar+gzip and tar+zstd layers")
    return config, layers


def _blob(descriptor: dict) -> Blob:
    digest, size = descriptor["digest"], descriptor["size"]
    if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
        raise ValueError("descriptor needs a digest string and a size")
    return Blob(digest, size, str(descriptor.get("mediaType", "")))


def _download(store: ContentStore, client: RegistryClient, blobs: list[Blob], progress: Progress | None,
              after: Callable[[Blob], None] | None = None) -> None:
    """Fetch the missing blobs, a few at a time, and run `after` on each blob once it is verified.

    The first failure cancels what has not started.
    """
    from kubeplay.images.transfer import as_pull_progress

    events = as_pull_progress(progress)
    unique = {blob.digest: blob for blob in blobs}
    missing = {blob.digest for blob in unique.values() if not store.has(blob.digest, blob.size)}
    for blob in unique.values():
        if blob.digest not in missing:
            events.blob_finished(blob.digest, _what(blob), skipped=True)
    work = [blob for blob in unique.values() if blob.digest in missing or after is not None]
    if not work:
        return

    def one(blob: Blob) -> None:
        if blob.digest in missing:
            what = _what(blob)
            events.blob_started(blob.digest, blob.size, what)
            client.fetch_blob(store, blob.digest, blob.size, what=what,
                              on_bytes=lambda done: events.blob_advanced(blob.digest, done))
            events.blob_finished(blob.digest, what, skipped=False)
        if after is not None:
            after(blob)

    with ThreadPoolExecutor(max_workers=min(PARALLEL_DOWNLOADS, len(work)),
                            thread_name_prefix="kubeplay-pull") as pool:
        futures = [pool.submit(one, blob) for blob in work]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future in done and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]


def _what(blob: Blob) -> str:
    return "config" if "config" in blob.media_type else "layer"


def _warn_platform(config_bytes: bytes, want: Platform, ref: ImageRef) -> None:
    try:
        config = json.loads(config_bytes)
        have = Platform(config.get("os", ""), config.get("architecture", ""), config.get("variant", ""))
    except (ValueError, AttributeError):
        return
    if (have.os, have.architecture) != (want.os, want.architecture):
        log.warning("image %s is for %s, not the requested %s", ref, have, want)


def _combined(reference: str, failures: list[tuple[str, KubeplayError]]) -> KubeplayError:
    """One error for every place tried; a single failure is raised as it was."""
    if not failures:
        return NotFoundError(f"image {reference}: no registry to pull it from",
                             hint="set unqualified-search-registries in registries.conf")
    if len(failures) == 1:
        return failures[0][1]
    tried = "; ".join(f"{where}: {exc.message}" for where, exc in failures)
    message = f"pulling {reference} failed everywhere it was tried: {tried}"
    errors = [exc for _, exc in failures]
    if all(isinstance(exc, NotFoundError) for exc in errors):
        return NotFoundError(message, hint="check the image name, or qualify it with its registry (HOST/NAME:TAG)")
    first = next(exc for exc in errors if not isinstance(exc, NotFoundError))
    return type(first)(message, hint=first.hint)


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(text)


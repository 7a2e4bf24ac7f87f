"""Finding an image of the local store by what a user or a manifest calls it, without loading the
code that writes images (content store, layer unpacking): every play looks its images up here."""

from __future__ import annotations

from pathlib import Path

from kubeplay.config import Settings
from kubeplay.errors import ContentError, NotFoundError, ReferenceFormatError
from kubeplay.model.image import ImageRecord
from kubeplay.store.db import open_database
from kubeplay.store.images import ImageIndex


def image_index(settings: Settings) -> OpenImageIndex:
    """`with image_index(settings) as index:` the image index on a database connection of its own."""
    return OpenImageIndex(settings)


class OpenImageIndex:
    """The index on a connection of its own, closed after the with-block."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __enter__(self) -> ImageIndex:
        self.db = open_database(self.settings.root)
        return ImageIndex(self.db)

    def __exit__(self, *exc_info) -> bool:
        self.db.close()
        return False


def layer_path(root: Path, diff_id: str) -> Path:
    """Where the unpacked layer `diff_id` lives under the graph root `root`."""
    algorithm, _, hexpart = diff_id.partition(":")
    if algorithm != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise ContentError(f"malformed layer diff id {diff_id!r}", hint="only sha256 diff ids are supported")
    return root / "layers" / hexpart


def _repository(name: str) -> str:
    """registry/repository of a stored name, without its tag or digest."""
    name = name.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def lookup_name(index: ImageIndex, text: str) -> tuple[ImageRecord, str | None] | None:
    """The image `text` names and the stored name it matched (None for a digest reference).

    Tried in turn: the exact stored name, the normalised reference, and for a short name any local
    image from another registry (localhost/x, quay.io/y/x), as podman's local lookup does.
    """
    found = index.get_by_name(text)
    if found is not None:
        return found, text
    from kubeplay.images.reference import is_short_name, parse_reference  # only past the exact name

    try:
        ref = parse_reference(text)
    except ReferenceFormatError:
        return None
    if ref.digest:
        matches = [r for r in index.get_by_manifest(ref.digest) if any(_repository(n) == ref.name for n in r.names)]
        return (matches[0], None) if matches else None
    found = index.get_by_name(str(ref))
    if found is not None:
        return found, str(ref)
    if not is_short_name(text):
        return None
    suffix = "/" + str(ref).removeprefix("docker.io/").removeprefix("library/")
    candidates = index.names_ending_with(suffix)
    if len(candidates) != 1:
        return None
    found = index.get_by_name(candidates[0])
    return (found, candidates[0]) if found is not None else None


def find_local_image(index: ImageIndex, text: str) -> ImageRecord | None:
    """By exact stored name, normalised name, short name, or id prefix; None when unknown."""
    match = lookup_name(index, text)
    return match[0] if match is not None else index.get_by_id(text)


def resolve_local_image(settings: Settings, name: str) -> ImageRecord:
    with image_index(settings) as index:
        record = find_local_image(index, name)
    if record is None:
        raise NotFoundError(
            f"image \"{name}\" is not in the local store",
            hint=f"pull it with `kubeplay pull {name}`, or see `kubeplay images` for what is here",
        )
    return record

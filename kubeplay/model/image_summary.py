"""What the image listing shows of a stored image."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageSummary:
    """What the image listing shows of an image, read without validating its whole record."""

    id: str
    names: tuple[str, ...]
    manifest_digest: str
    size: int
    created: str = ""
    os: str = "linux"
    architecture: str = ""

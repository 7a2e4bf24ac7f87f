"""Images: the runtime config an image carries, and a stored image's record.

A parsed reference (model.image_ref) and the listing's summary (model.image_summary) live apart:
looking a stored image's config up, as generate does, needs neither."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an OCI image config that shape a container."""

    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""


@dataclass(frozen=True)
class ImageRecord:
    """An image in the local store. `id` is the config digest, as docker and podman use it."""

    id: str
    names: tuple[str, ...]
    manifest_digest: str
    diff_ids: tuple[str, ...]
    config: ImageConfig
    size: int
    created: str = ""
    os: str = "linux"
    architecture: str = ""
    variant: str = ""

"""Images: a parsed reference, the runtime config an image carries, and a stored image's record."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageRef:
    """A fully qualified reference: registry host[:port], repository path, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


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

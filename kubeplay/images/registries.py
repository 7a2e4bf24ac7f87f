"""registries.conf (v2): search registries, short-name aliases, and where each image is fetched from.

Files are read as podman reads them: $CONTAINERS_REGISTRIES_CONF alone if set; otherwise the user's
$XDG_CONFIG_HOME/containers/registries.conf (rootless) *instead of* /etc/containers/registries.conf,
then the registries.conf.d/*.conf drop-ins of both directories, each overriding what came before.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from kubeplay.config import home_dir, is_rootless
from kubeplay.errors import UserError
from kubeplay.model.image_ref import ImageRef

SYSTEM_CONF = Path("/etc/containers/registries.conf")
ENV_CONF = "CONTAINERS_REGISTRIES_CONF"


@dataclass(frozen=True)
class Endpoint:
    """One place to fetch an image from: a registry host and the repository path there."""

    host: str
    insecure: bool = False
    repository: str = ""


@dataclass(frozen=True)
class Mirror:
    """A mirror of a registry, tried before the registry itself."""

    location: str
    insecure: bool = False


@dataclass(frozen=True)
class Registry:
    """A [[registry]] table: images under `prefix` are fetched from `location` (or its mirrors)."""

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[Mirror, ...] = ()

    def matches(self, name: str) -> bool:
        """Whether `name` (registry/repository) falls under this prefix."""
        if self.prefix.startswith("*."):
            host = name.split("/", 1)[0]
            return host.endswith(self.prefix[1:])
        return name == self.prefix or name.startswith(self.prefix + "/")

    def rewrite(self, name: str, location: str) -> tuple[str, str]:
        """(host, repository) of `name` at `location`, the prefix replaced by the location."""
        if self.prefix.startswith("*.") or not location:
            full = name
        else:
            full = location + name[len(self.prefix):]
        host, _, repository = full.partition("/")
        return host, repository


@dataclass(frozen=True)
class RegistriesConf:
    """registries.conf and its drop-ins, merged."""

    unqualified_search_registries: list[str] = field(default_factory=list)
    registries: tuple[Registry, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()

    @classmethod
    def load(cls) -> RegistriesConf:
        return cls.from_files(standard_paths())

    @classmethod
    def from_files(cls, paths: list[Path]) -> RegistriesConf:
        """Merge `paths` in order; a later file's settings override an earlier one's."""
        conf = cls()
        for path in paths:
            if path.is_file():
                conf = conf._merged(path, _read(path))
        return conf

    def _merged(self, path: Path, data: dict) -> RegistriesConf:
        search = data.get("unqualified-search-registries", self.unqualified_search_registries)
        if not isinstance(search, list) or not all(isinstance(item, str) for item in search):
            raise _bad(path, "unqualified-search-registries must be a list of host names")
        by_prefix = {registry.prefix: registry for registry in self.registries}
        for index, table in enumerate(data.get("registry", [])):
            registry = _registry(path, index, table)
            by_prefix[registry.prefix] = registry
        aliases = dict(self.aliases)
        raw_aliases = data.get("aliases", {})
        if not isinstance(raw_aliases, dict):
            raise _bad(path, "[aliases] must be a table of NAME = \"REGISTRY/REPOSITORY\"")
        aliases.update({str(k): str(v) for k, v in raw_aliases.items()})
        return replace(
            self,
            unqualified_search_registries=list(search),
            registries=tuple(by_prefix.values()),
            aliases=aliases,
            sources=self.sources + (path,),
        )

    def registry_for(self, ref: ImageRef) -> Registry | None:
        """The [[registry]] with the longest prefix matching `ref`, as containers/image picks it."""
        matching = [registry for registry in self.registries if registry.matches(ref.name)]
        return max(matching, key=lambda registry: len(registry.prefix), default=None)

    def endpoints(self, ref: ImageRef) -> list[Endpoint]:
        """Where to fetch `ref`: its mirrors first, then its location. A blocked registry refuses."""
        registry = self.registry_for(ref)
        if registry is None:
            return [Endpoint(ref.registry, False, ref.repository)]
        if registry.blocked:
            raise UserError(
                f"registry for {ref} is blocked in registries.conf (prefix {registry.prefix!r})",
                hint="remove `blocked = true` from that [[registry]] entry to allow pulls",
            )
        found: list[Endpoint] = []
        for mirror in registry.mirrors:
            host, repository = registry.rewrite(ref.name, mirror.location)
            found.append(Endpoint(host, mirror.insecure, repository))
        host, repository = registry.rewrite(ref.name, registry.location)
        found.append(Endpoint(host, registry.insecure, repository))
        return found

    def is_insecure(self, host: str) -> bool:
        """Whether a bare registry host is marked insecure as a location or a mirror (for `login`)."""
        for registry in self.registries:
            if registry.insecure and registry.location.split("/", 1)[0] == host:
                return True
            if any(m.insecure and m.location.split("/", 1)[0] == host for m in registry.mirrors):
                return True
        return False

def standard_paths() -> list[Path]:
    """The files podman would read, in rising precedence."""
    override = os.environ.get(ENV_CONF)
    if override:
        return [Path(override)]
    dirs = [SYSTEM_CONF.parent]
    main = SYSTEM_CONF
    if is_rootless():
        user_dir = Path(os.environ.get("XDG_CONFIG_HOME") or home_dir() / ".config") / "containers"
        if (user_dir / "registries.conf").is_file():
            main = user_dir / "registries.conf"
        dirs.append(user_dir)
    paths = [main]
    for directory in dirs:
        dropins = directory / "registries.conf.d"
        if dropins.is_dir():
            paths += sorted(dropins.glob("*.conf"))
    return paths


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _bad(path, f"cannot be read as TOML: {exc}") from exc


def _bad(path: Path, what: str) -> UserError:
    return UserError(f"{path}: {what}", hint=f"fix {path} (see containers-registries.conf(5))")


def _registry(path: Path, index: int, table: object) -> Registry:
    if not isinstance(table, dict):
        raise _bad(path, f"[[registry]] #{index + 1} is not a table")
    location = str(table.get("location", "")).rstrip("/")
    prefix = str(table.get("prefix", "") or location).rstrip("/")
    if not prefix:
        raise _bad(path, f"[[registry]] #{index + 1} needs a location or a prefix")
    if prefix.startswith("*.") and location:
        raise _bad(path, f"[[registry]] prefix {prefix!r}: a wildcard prefix cannot have a location")
    mirrors = []
    for mirror in table.get("mirror", []):
        if not isinstance(mirror, dict) or not mirror.get("location"):
            raise _bad(path, f"[[registry.mirror]] of {prefix!r} needs a location")
        mirrors.append(Mirror(str(mirror["location"]).rstrip("/"), bool(mirror.get("insecure", False))))
    return Registry(
        prefix=prefix,
        location=location or (prefix if not prefix.startswith("*.") else ""),
        insecure=bool(table.get("insecure", False)),
        blocked=bool(table.get("blocked", False)),
        mirrors=tuple(mirrors),
    )

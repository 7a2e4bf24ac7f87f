"""Image references: the Docker reference grammar, docker.io normalisation and short names.

A reference is ``[host[:port]/]path[:tag][@digest]``. The first path component is a registry host
only when it contains "." or ":", is "localhost", or has upper-case letters; otherwise the name is
short. ``parse_reference`` normalises short names the way docker does (``busybox`` ->
``docker.io/library/busybox:latest``); ``candidates`` resolves them as podman does, through the
aliases and ``unqualified-search-registries`` of registries.conf.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kubeplay.errors import ReferenceFormatError

if TYPE_CHECKING:
    from kubeplay.images.registries import RegistriesConf
    from kubeplay.model.image_ref import ImageRef

DOCKER_HUB = "docker.io"
DEFAULT_TAG = "latest"
NAME_MAX = 255

# Docker Hub answers to several names; the store and auth.json know it as docker.io.
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# Patterns, compiled by re's own cache on first use: most commands find their images by the exact
# stored name and never parse a reference, so they need not compile these.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}"
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha512": 128}

_HINT = "write references as [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. docker.io/library/busybox:1.36"


def _fail(text: str, what: str) -> ReferenceFormatError:
    return ReferenceFormatError(f"invalid image reference {text!r}: {what}", hint=_HINT)


def _split_domain(name: str) -> tuple[str | None, str]:
    """(registry or None, remainder) following docker's rule for what a host looks like."""
    first, sep, rest = name.partition("/")
    if not sep:
        return None, name
    if "." in first or ":" in first or first == "localhost" or first != first.lower():
        return first, rest
    return None, name


def _split_tag_digest(text: str) -> tuple[str, str | None, str | None]:
    name, at, digest = text.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, (digest if at else None)


def _check_digest(text: str, digest: str) -> None:
    if not re.fullmatch(_DIGEST, digest):
        raise _fail(text, f"digest {digest!r} is not ALGORITHM:HEX")
    algorithm, _, hexpart = digest.partition(":")
    expected = _DIGEST_HEX_LENGTH.get(algorithm)
    if expected is None:
        raise _fail(text, f"unsupported digest algorithm {algorithm!r} (use sha256)")
    if len(hexpart) != expected:
        raise _fail(text, f"a {algorithm} digest has {expected} hex digits, not {len(hexpart)}")


def _check_path(text: str, path: str) -> None:
    if not path:
        raise _fail(text, "the repository name is empty")
    for component in path.split("/"):
        if re.fullmatch(_PATH_COMPONENT, component):
            continue
        if component and re.fullmatch(_PATH_COMPONENT, component.lower()):
            raise _fail(text, "repository name must be lowercase")
        raise _fail(text, f"path component {component!r} may hold only a-z, 0-9 and single . _ __ - separators")


def _split(text: str) -> tuple[str | None, str, str | None, str | None]:
    """Validate `text` and return (registry or None, path, tag, digest) without normalising."""
    if not text:
        raise ReferenceFormatError("invalid image reference: it is empty", hint=_HINT)
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise _fail(text, "it contains white space")
    if "://" in text:
        raise _fail(text, "a reference has no URL scheme")
    name, tag, digest = _split_tag_digest(text)
    if tag is not None and not re.fullmatch(_TAG, tag):
        raise _fail(text, f"tag {tag!r} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
    if digest is not None:
        _check_digest(text, digest)
    if len(name) > NAME_MAX:
        raise _fail(text, f"the name is longer than {NAME_MAX} characters")
    registry, path = _split_domain(name)
    if registry is not None and not re.fullmatch(_DOMAIN, registry):
        raise _fail(text, f"registry {registry!r} is not a valid host[:port]")
    _check_path(text, path)
    return registry, path, tag, digest


def _normalise(registry: str, path: str, tag: str | None, digest: str | None) -> ImageRef:
    from kubeplay.model.image_ref import ImageRef  # not at the top: checking a reference needs no model

    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageRef(registry=registry, repository=path, tag=tag, digest=digest)


def is_short_name(text: str) -> bool:
    """True when `text` names no registry (it then goes through aliases and search registries)."""
    name, _, _ = _split_tag_digest(text)
    return _split_domain(name)[0] is None


def check_reference(text: str) -> None:
    """Raise ReferenceFormatError unless `text` is a valid reference (short names too)."""
    _split(text)


def parse_reference(text: str) -> ImageRef:
    """Parse and normalise a reference; a short name is taken to live on docker.io, as docker does."""
    registry, path, tag, digest = _split(text)
    return _normalise(registry or DOCKER_HUB, path, tag, digest)


def candidates(text: str, conf: RegistriesConf) -> list[ImageRef]:
    """The fully qualified references to try for `text`, in order.

    A qualified name yields itself. A short name yields its alias from registries.conf if one is
    defined, else one reference per unqualified-search registry; with none configured it falls back
    to docker.io so that a bare host still pulls what docker would.
    """
    registry, path, tag, digest = _split(text)
    if registry is not None:
        return [_normalise(registry, path, tag, digest)]
    alias = conf.aliases.get(path)
    if alias is not None:
        target = parse_reference(alias)
        # The alias names the repository; the user's tag or digest still applies.
        return [_normalise(target.registry, target.repository, tag or (None if digest else target.tag), digest)]
    registries = conf.unqualified_search_registries or [DOCKER_HUB]
    return [_normalise(parse_host(host, text), path, tag, digest) for host in registries]


def parse_host(host: str, context: str = "") -> str:
    """Validate a bare registry host[:port] (from a config file or `login HOST`)."""
    if not re.fullmatch(_DOMAIN, host):
        raise ReferenceFormatError(
            f"invalid registry host {host!r}" + (f" (while resolving {context!r})" if context else ""),
            hint="a registry is written HOST or HOST:PORT, e.g. quay.io or localhost:5000",
        )
    return DOCKER_HUB if host in _HUB_ALIASES else host

"""Platforms in OCI terms (os/architecture/variant) and picking one manifest from a list or index."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubeplay.errors import NotFoundError, ReferenceFormatError

# uname -m -> (OCI architecture, variant)
_MACHINES = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armv7": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""),
    "loongarch64": ("loong64", ""),
}
_ARCH_ALIASES = {
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm", "i386": "386",
}
# Variants assumed when a descriptor or the user leaves them out.
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclass(frozen=True)
class Platform:
    """An image platform: os, architecture and variant."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def host_platform(machine: str | None = None) -> Platform:
    """This host's platform (or that of a `uname -m` machine name)."""
    machine = machine or os.uname().machine
    architecture, variant = _MACHINES.get(machine, (machine.lower(), ""))
    return Platform("linux", architecture, variant)


def parse_platform(text: str) -> Platform:
    """'linux/arm64/v8', 'linux/amd64' or 'arm64' (os defaults to linux)."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1 and parts[0]:
        parts = ["linux", parts[0]]
    if len(parts) not in (2, 3) or not all(parts):
        raise ReferenceFormatError(f"invalid platform {text!r}", hint="write OS/ARCH[/VARIANT], e.g. linux/arm64/v8")
    architecture = _ARCH_ALIASES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else ""
    return Platform(parts[0], architecture, variant)


def _variant(architecture: str, variant: str) -> str:
    return variant or _DEFAULT_VARIANT.get(architecture, "")


def _rank(want: Platform, have: Platform) -> int | None:
    """Lower is better; None when `have` cannot run on `want`."""
    if have.os != want.os or have.architecture != want.architecture:
        return None
    if have.variant == want.variant:
        return 0
    want_variant = _variant(want.architecture, want.variant)
    have_variant = _variant(have.architecture, have.variant)
    if have_variant == want_variant:
        return 1  # equal once arm64's v8 or arm's v7 default is filled in
    if not have.variant:
        return 2
    # 32-bit arm runs older variants: v7 runs v6 and v5 images.
    if want.architecture == "arm" and have_variant < want_variant:
        return 3 + (ord(want_variant[-1]) - ord(have_variant[-1]))
    if not want.variant:
        return 10  # the user named no variant: any one will do, after exact matches
    return None


def descriptor_platform(descriptor: dict) -> Platform:
    raw = descriptor.get("platform") or {}
    return Platform(str(raw.get("os", "")), str(raw.get("architecture", "")), str(raw.get("variant", "")))


def select_manifest(index: dict, want: Platform, image: str) -> dict:
    """The descriptor in a manifest list / OCI index that best fits `want`, exact variant first."""
    ranked = []
    for position, descriptor in enumerate(index.get("manifests") or []):
        rank = _rank(want, descriptor_platform(descriptor))
        if rank is not None:
            ranked.append((rank, position, descriptor))
    if ranked:
        return min(ranked, key=lambda item: (item[0], item[1]))[2]
    available = sorted({str(descriptor_platform(d)) for d in index.get("manifests") or []
                        if descriptor_platform(d).os not in ("", "unknown")})
    raise NotFoundError(
        f"image {image} has no variant for platform {want}; it offers: {', '.join(available) or 'none'}",
        hint="choose one of those with --platform OS/ARCH[/VARIANT]",
    )

"""The bench images: busybox, and a ~150 MB three-layer image with realistic content.

The large image imitates a real application image: a base layer (busybox plus many small text files:
docs, configs, scripts), a library layer (binaries: incompressible data in files of varied sizes)
and an application layer (a mix of source-like text and data). Everything comes from seeded random
generators, so each run builds the same bytes and the same digests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.support.imagebuild import Entry, Image, Layer, busybox_rootfs_entries, directory, file, layer_tar, make_image

MB = 1 << 20

# a vocabulary that compresses like prose and code do (roughly 3-4x under gzip)
_WORDS = (
    "the of and to in is for that with on as by this be are from or at an it not which config "
    "value return import def class self if else elif while for try except raise None True False "
    "int str list dict set len range print open read write path file name data index error warning "
    "info debug level service server client request response header body status code message "
    "container image layer pod network volume mount port host address user group mode size time "
    "start stop restart create delete update list get set run exec log trace begin end {} [] () = : ;"
).split()


def _text(rng: random.Random, size: int) -> bytes:
    words = rng.choices(_WORDS, k=max(1, size // 5))
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines).encode()[:size]


def _binary(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _sizes(rng: random.Random, total: int, median: int, cap: int) -> list[int]:
    """File sizes drawn log-normally around `median`, clipped to [64 B, cap], summing to ~total."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(min(cap, max(64, rng.lognormvariate(0, 1.4) * median))))
    return sizes


def _files(rng: random.Random, prefix: str, total: int, median: int, cap: int, text_share: float) -> list[Entry]:
    entries: list[Entry] = []
    dirs: set[str] = set()
    for number, size in enumerate(_sizes(rng, total, median, cap)):
        folder = f"{prefix}/d{number % 37:02d}/s{number % 5}"
        dirs.add(folder)
        is_text = rng.random() < text_share
        data = _text(rng, size) if is_text else _binary(rng, size)
        suffix = ".txt" if is_text else ".bin"
        entries.append(file(f"{folder}/f{number:05d}{suffix}", data, 0o644))
    for folder in sorted(dirs):
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:depth]))
    entries += [directory(d) for d in sorted(dirs)]
    return entries


@dataclass(frozen=True)
class BenchImages:
    busybox: Image
    large: Image

    @property
    def large_size(self) -> int:
        """Uncompressed bytes of the large image's layers."""
        return sum(len(layer.tar) for layer in self.large.layers)

    @property
    def large_blob_size(self) -> int:
        return sum(layer.blob.size for layer in self.large.layers)


def large_image(seed: str = "kubeplay-bench") -> Image:
    rng = random.Random(seed)
    rootfs = busybox_rootfs_entries()
    present = {entry.path for entry in rootfs}
    # a path twice in one layer is refused by some unpackers (podman's among them)
    docs = [entry for entry in _files(rng, "usr/share", 45 * MB, 6_000, 2 * MB, 0.95) if entry.path not in present]
    base = Layer(layer_tar(rootfs + docs))
    libs = Layer(layer_tar(_files(rng, "usr/lib/app", 60 * MB, 120_000, 8 * MB, 0.1)))
    app = Layer(layer_tar(_files(rng, "opt/app", 45 * MB, 20_000, 4 * MB, 0.5)))
    return make_image([base, libs, app], cmd=["sh"])


def build_images() -> BenchImages:
    busybox = make_image([Layer(layer_tar(busybox_rootfs_entries()))], cmd=["sh"])
    return BenchImages(busybox=busybox, large=large_image())

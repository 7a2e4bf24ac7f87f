"""Test images built from Debian's busybox-static: layer tars, configs, manifests and archives.

Everything here is deterministic (fixed mtimes, owners and entry order), so the same inputs give the
same digests on every run, and a test can compare digests across a push and a pull. Images are built
in memory as `Image` objects and then written out as an OCI layout directory, an oci-archive or a
docker-archive (the `docker save` format).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
FIXED_MTIME = 1_700_000_000

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Entry:
    """One tar member: a directory, a regular file or a symlink (exactly one of data/link for non-dirs)."""

    path: str
    kind: str  # "dir" | "file" | "symlink"
    mode: int = 0o755
    data: bytes = b""
    link: str = ""
    uid: int = 0
    gid: int = 0


def directory(path: str, mode: int = 0o755) -> Entry:
    return Entry(path, "dir", mode)


def file(path: str, data: bytes | str, mode: int = 0o644) -> Entry:
    return Entry(path, "file", mode, data.encode() if isinstance(data, str) else data)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, "symlink", 0o777, link=target)


def layer_tar(entries: list[Entry]) -> bytes:
    """An uncompressed layer tar: members sorted by path, fixed mtime, numeric root ownership."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mtime = FIXED_MTIME
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            info.uname = info.gname = ""
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry.link
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()


def gzip_deterministic(data: bytes) -> bytes:
    # mtime=0 and no file name in the header, so the compressed digest is stable too
    return gzip.compress(data, compresslevel=6, mtime=0)


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: object) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Layer:
    tar: bytes  # uncompressed; its digest is the diff_id

    @property
    def diff_id(self) -> str:
        return sha256_digest(self.tar)

    @property
    def blob(self) -> Blob:
        return Blob(OCI_LAYER_GZIP, _gzip_cached(self.tar))


_GZIP_CACHE: dict[str, bytes] = {}


def _gzip_cached(tar: bytes) -> bytes:
    key = sha256_digest(tar)
    if key not in _GZIP_CACHE:
        _GZIP_CACHE[key] = gzip_deterministic(tar)
    return _GZIP_CACHE[key]


@dataclass(frozen=True)
class Image:
    """A single-platform image: config JSON blob plus its layers, and the manifest that ties them."""

    config: Blob
    layers: tuple[Layer, ...]

    @property
    def manifest(self) -> Blob:
        body = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.config.descriptor(),
            "layers": [layer.blob.descriptor() for layer in self.layers],
        }
        return Blob(OCI_MANIFEST, canonical_json(body))

    @property
    def config_json(self) -> dict:
        return json.loads(self.config.data)

    def blobs(self) -> list[Blob]:
        return [self.config, *(layer.blob for layer in self.layers)]


@dataclass(frozen=True)
class ImageIndex:
    """A multi-platform OCI index over single-platform images."""

    images: tuple[Image, ...]

    @property
    def manifest(self) -> Blob:
        entries = []
        for image in self.images:
            config = image.config_json
            platform = {"os": config["os"], "architecture": config["architecture"]}
            if config.get("variant"):
                platform["variant"] = config["variant"]
            entries.append(image.manifest.descriptor(platform=platform))
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return Blob(OCI_INDEX, canonical_json(body))


def image_config(
    layers: list[Layer],
    *,
    cmd: list[str] | None = None,
    entrypoint: list[str] | None = None,
    env: list[str] | None = None,
    working_dir: str = "",
    user: str = "",
    labels: dict[str, str] | None = None,
    architecture: str = "amd64",
    variant: str = "",
) -> Blob:
    runtime: dict = {"Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    if cmd is not None:
        runtime["Cmd"] = cmd
    if entrypoint is not None:
        runtime["Entrypoint"] = entrypoint
    if working_dir:
        runtime["WorkingDir"] = working_dir
    if user:
        runtime["User"] = user
    if labels:
        runtime["Labels"] = labels
    body: dict = {
        "created": "2023-11-14T22:13:20Z",
        "architecture": architecture,
        "os": "linux",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "kubeplay test image builder"}],
    }
    if variant:
        body["variant"] = variant
    return Blob(OCI_CONFIG, canonical_json(body))


def make_image(layers: list[Layer], **config: object) -> Image:
    return Image(image_config(layers, **config), tuple(layers))  # type: ignore[arg-type]


# ---- the busybox rootfs -------------------------------------------------------------------------


def busybox_applets(busybox: Path = BUSYBOX) -> list[str]:
    """Applet install paths, e.g. "bin/sh", "usr/bin/env" (from `busybox --list-full`)."""
    result = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, timeout=10, check=True)
    return sorted(line.strip().lstrip("/") for line in result.stdout.splitlines() if line.strip())


def busybox_rootfs_entries(busybox: Path = BUSYBOX) -> list[Entry]:
    """A minimal root filesystem: busybox, one symlink per applet, passwd/group, a sticky /tmp."""
    entries = [
        file("bin/busybox", busybox.read_bytes(), 0o755),
        file("etc/passwd", PASSWD),
        file("etc/group", GROUP),
        directory("tmp", 0o1777),
        directory("root", 0o700),
        Entry("home/app", "dir", 0o755, uid=1000, gid=1000),
    ]
    dirs = {"bin", "etc", "home"}
    for applet in busybox_applets(busybox):
        if applet == "bin/busybox":
            continue
        # relative targets keep the links valid wherever the rootfs is unpacked
        parent = applet.rsplit("/", 1)[0] if "/" in applet else ""
        entries.append(symlink(applet, "../" * (parent.count("/") + 1) + "bin/busybox" if parent else "bin/busybox"))
        while parent:
            dirs.add(parent)
            parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
    entries += [directory(d) for d in dirs]
    return entries


def busybox_layer() -> Layer:
    return Layer(layer_tar(busybox_rootfs_entries()))


# ---- the standard test images -------------------------------------------------------------------


def busybox_image() -> Image:
    return make_image([busybox_layer()], cmd=["sh"])


def layered_image() -> Image:
    """Three layers exercising whiteouts: /data/b is deleted, /opq is made opaque (x gone, y present)."""
    middle = Layer(layer_tar([
        directory("data"), file("data/a", "a\n"), file("data/b", "b\n"),
        directory("opq"), file("opq/x", "x\n"),
    ]))
    top = Layer(layer_tar([
        directory("data"), file("data/.wh.b", b""),
        directory("opq"), file("opq/.wh..wh..opq", b""), file("opq/y", "y\n"),
    ]))
    return make_image([busybox_layer(), middle, top], cmd=["sh"])


def entrypoint_image() -> Image:
    return make_image(
        [busybox_layer()],
        entrypoint=["/bin/echo", "from-entrypoint"],
        cmd=["default-cmd"],
        env=["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
        working_dir="/tmp",
        user="app",
    )


ARCH_LABEL = "org.kubeplay.test.arch"


def multiarch_index() -> ImageIndex:
    """amd64 and arm64 manifests over the same busybox layer; only the configs tell them apart."""
    layer = busybox_layer()
    images = []
    for arch, variant in (("amd64", ""), ("arm64", "v8")):
        images.append(make_image(
            [layer], cmd=["sh"], architecture=arch, variant=variant,
            env=["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"TEST_ARCH={arch}"], labels={ARCH_LABEL: arch},
        ))
    return ImageIndex(tuple(images))


def random_image(size: int, seed: str) -> Image:
    """One layer holding `size` bytes that do not compress (so the blob is as big as asked)."""
    content = random.Random(seed).randbytes(size)
    layer = Layer(layer_tar([directory("big"), file("big/random.bin", content)]))
    return make_image([layer], cmd=["sh"])


# ---- writing images out -------------------------------------------------------------------------


def _write_blob(layout: Path, blob: Blob) -> None:
    path = layout / "blobs" / "sha256" / blob.digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(blob.data)


def write_oci_layout(target: Path, image: Image | ImageIndex, ref_name: str = "latest") -> Path:
    """An OCI image layout directory: oci-layout, index.json and blobs/sha256/."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    images = image.images if isinstance(image, ImageIndex) else (image,)
    for one in images:
        for blob in [*one.blobs(), one.manifest]:
            _write_blob(target, blob)
    top = image.manifest
    if isinstance(image, ImageIndex):
        _write_blob(target, top)
    annotations = {"org.opencontainers.image.ref.name": ref_name}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top.descriptor(annotations=annotations)]}
    (target / "index.json").write_text(json.dumps(index, indent=2))
    return target


def _tar_directory(source: Path, target: Path) -> None:
    with tarfile.open(target, "w") as tar:
        for path in sorted(source.rglob("*")):
            info = tar.gettarinfo(str(path), str(path.relative_to(source)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
            if path.is_file():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)


def write_oci_archive(target: Path, image: Image | ImageIndex, ref_name: str = "latest") -> Path:
    """An oci-archive: the OCI layout directory as one tar."""
    staging = target.with_name(target.name + ".layout")
    write_oci_layout(staging, image, ref_name)
    try:
        _tar_directory(staging, target)
    finally:
        shutil.rmtree(staging)
    return target


def docker_archive_members(image: Image, repo_tags: list[str]) -> dict[str, bytes]:
    """The files of a `docker save` tar: <config>.json, <layer>/layer.tar, manifest.json, repositories."""
    config_name = image.config.digest.split(":", 1)[1] + ".json"
    members: dict[str, bytes] = {config_name: image.config.data}
    layer_paths = []
    for layer in image.layers:
        path = layer.diff_id.split(":", 1)[1] + "/layer.tar"
        members[path] = layer.tar
        layer_paths.append(path)
    manifest = [{"Config": config_name, "RepoTags": repo_tags, "Layers": layer_paths}]
    members["manifest.json"] = json.dumps(manifest).encode()
    repositories: dict[str, dict[str, str]] = {}
    top = image.layers[-1].diff_id.split(":", 1)[1]
    for tag in repo_tags:
        name, _, version = tag.rpartition(":")
        repositories.setdefault(name, {})[version] = top
    members["repositories"] = json.dumps(repositories).encode()
    return members


def write_docker_archive(target: Path, image: Image, repo_tags: list[str]) -> Path:
    members = docker_archive_members(image, repo_tags)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w") as tar:
        for name in sorted({str(Path(n).parent) for n in members if "/" in n}):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))
    return target


def write_rootfs_tar(target: Path, entries: list[Entry] | None = None) -> Path:
    """A plain rootfs tar (what `image import` takes), busybox's by default."""
    target.write_bytes(layer_tar(entries if entries is not None else busybox_rootfs_entries()))
    return target


@dataclass
class ImageCache:
    """Builds each standard image once per session; busybox is read and compressed only once."""

    built: dict[str, Image | ImageIndex] = field(default_factory=dict)

    def get(self, name: str) -> Image | ImageIndex:
        if name not in self.built:
            builders = {
                "busybox": busybox_image, "layered": layered_image,
                "entrypoint": entrypoint_image, "multiarch": multiarch_index,
            }
            self.built[name] = builders[name]()
        return self.built[name]

"""Checks of the test-image builders: deterministic layers, well-formed archives and manifests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.support import imagebuild as ib
from tests.support.cli import CLIResult, mounts_below

needs_busybox = pytest.mark.skipif(not ib.BUSYBOX.exists(), reason="busybox-static is not installed")


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_layer_tar_is_deterministic_and_sorted() -> None:
    entries = [ib.file("b/x", "x"), ib.directory("b"), ib.file("a", "a", 0o600), ib.symlink("c", "a")]
    first, second = ib.layer_tar(entries), ib.layer_tar(list(reversed(entries)))
    assert first == second
    members = _members(first)
    assert [m.name for m in members] == ["a", "b", "b/x", "c"]
    assert {m.mtime for m in members} == {ib.FIXED_MTIME}
    assert members[0].mode == 0o600 and members[3].linkname == "a"
    assert ib.gzip_deterministic(first) == ib.gzip_deterministic(second)


@needs_busybox
def test_busybox_rootfs_has_applets_users_and_sticky_tmp() -> None:
    members = {m.name: m for m in _members(ib.busybox_layer().tar)}
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "../bin/busybox"
    assert members["usr/bin/env"].linkname == "../../bin/busybox"
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert "etc/hostname" not in members
    with tarfile.open(fileobj=io.BytesIO(ib.busybox_layer().tar)) as tar:
        passwd = tar.extractfile("etc/passwd").read().decode()
    assert "app:x:1000:1000:" in passwd and passwd.startswith("root:x:0:0:")


@needs_busybox
def test_images_are_reproducible_and_manifests_point_at_their_blobs() -> None:
    image = ib.busybox_image()
    assert image.manifest.digest == ib.busybox_image().manifest.digest
    manifest = json.loads(image.manifest.data)
    assert manifest["config"]["digest"] == image.config.digest
    assert manifest["layers"][0] == image.layers[0].blob.descriptor()
    assert image.config_json["rootfs"]["diff_ids"] == [image.layers[0].diff_id]
    assert image.config_json["config"]["Cmd"] == ["sh"]


@needs_busybox
def test_layered_image_carries_whiteouts_in_its_top_layer() -> None:
    image = ib.layered_image()
    assert len(image.layers) == 3
    top = {m.name for m in _members(image.layers[2].tar)}
    assert {"data/.wh.b", "opq/.wh..wh..opq", "opq/y"} <= top


@needs_busybox
def test_multiarch_index_names_two_platforms_with_distinct_configs() -> None:
    index = ib.multiarch_index()
    body = json.loads(index.manifest.data)
    platforms = [(m["platform"]["os"], m["platform"]["architecture"]) for m in body["manifests"]]
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]
    assert index.images[0].config.digest != index.images[1].config.digest
    assert index.images[1].config_json["config"]["Labels"][ib.ARCH_LABEL] == "arm64"


@needs_busybox
def test_docker_archive_manifest_is_well_formed(tmp_path: Path) -> None:
    image = ib.busybox_image()
    path = ib.write_docker_archive(tmp_path / "a.tar", image, ["localhost/x:v1"])
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert len(manifest) == 1 and manifest[0]["RepoTags"] == ["localhost/x:v1"]
        config = tar.extractfile(manifest[0]["Config"]).read()
        assert ib.sha256_digest(config) == image.config.digest
        layer = tar.extractfile(manifest[0]["Layers"][0]).read()
        assert ib.sha256_digest(layer) == json.loads(config)["rootfs"]["diff_ids"][0]


@needs_busybox
def test_oci_layout_and_archive_hold_every_blob(tmp_path: Path) -> None:
    image = ib.entrypoint_image()
    layout = ib.write_oci_layout(tmp_path / "layout", image, "v2")
    index = json.loads((layout / "index.json").read_text())
    top = index["manifests"][0]
    assert top["digest"] == image.manifest.digest
    assert top["annotations"]["org.opencontainers.image.ref.name"] == "v2"
    for blob in [image.manifest, *image.blobs()]:
        assert (layout / "blobs/sha256" / blob.digest.split(":")[1]).read_bytes() == blob.data
    archive = ib.write_oci_archive(tmp_path / "oci.tar", image, "v2")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"oci-layout", "index.json", "blobs/sha256/" + image.config.digest.split(":")[1]} <= names


def test_cli_result_picks_error_and_hint_lines() -> None:
    result = CLIResult(1, "", "warning: x\nerror: no such image\nhint: pull it\n")
    code, _, _ = result
    assert code == 1
    assert result.error_lines() == ["error: no such image"] and result.hint_lines() == ["hint: pull it"]


def test_mounts_below_ignores_unrelated_paths(tmp_path: Path) -> None:
    assert mounts_below(tmp_path) == []
    assert "/proc" not in mounts_below(tmp_path)

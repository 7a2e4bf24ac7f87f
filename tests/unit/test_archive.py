"""Loading docker-archive, oci-archive and OCI layout images built in the test; broken ones store nothing."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import ContentError, NotFoundError
from kubeplay.images.archive import load_archive
from kubeplay.images.content import ContentStore
from kubeplay.images.inventory import list_images
from kubeplay.images.layers import LayerStore
from tests.support import imagebuild as ib


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    return settings


@pytest.fixture(scope="module")
def image() -> ib.Image:
    base = ib.Layer(ib.layer_tar([ib.directory("etc"), ib.file("etc/os", "test\n"), ib.file("gone", "x")]))
    top = ib.Layer(ib.layer_tar([ib.file(".wh.gone", b""), ib.file("etc/top", "top\n")]))
    return ib.make_image([base, top], cmd=["sh"], labels={"l": "v"})


def assert_stored(settings: Settings, image: ib.Image, names: list[str]) -> None:
    [record] = list_images(settings)
    assert record.id == image.config.digest
    assert sorted(record.names) == sorted(names)
    assert record.diff_ids == tuple(layer.diff_id for layer in image.layers)
    assert record.config.cmd == ("sh",) and record.config.labels == {"l": "v"}
    layers = LayerStore(settings.root)
    assert (layers.path(record.diff_ids[1]) / "etc/top").read_text() == "top\n"
    assert ContentStore(settings.root).has(record.manifest_digest)


def assert_nothing_stored(settings: Settings) -> None:
    assert list_images(settings) == []
    assert list(ContentStore(settings.root).digests()) == []
    assert LayerStore(settings.root).diff_ids() == []


def test_docker_archive(settings, tmp_path, image):
    path = ib.write_docker_archive(tmp_path / "d.tar", image, ["busybox:v1", "quay.io/x/y:2"])
    records = load_archive(settings, path)
    assert [r.id for r in records] == [image.config.digest]
    assert_stored(settings, image, ["docker.io/library/busybox:v1", "quay.io/x/y:2"])
    # docker archives hold plain tars: the layer blob is the tar itself
    assert ContentStore(settings.root).has(image.layers[0].diff_id)


def test_docker_archive_twice_is_idempotent(settings, tmp_path, image):
    path = ib.write_docker_archive(tmp_path / "d.tar", image, ["localhost/a:1"])
    first = load_archive(settings, path)
    second = load_archive(settings, path)
    assert first == second
    assert len(list_images(settings)) == 1


def test_oci_archive_and_layout(settings, tmp_path, image):
    archive = ib.write_oci_archive(tmp_path / "o.tar", image, "docker.io/library/busybox:1.36")
    [record] = load_archive(settings, archive)
    assert record.manifest_digest == image.manifest.digest  # an OCI manifest is kept as it is
    assert_stored(settings, image, ["docker.io/library/busybox:1.36"])


def test_oci_layout_directory_with_bare_ref_name(settings, tmp_path, image):
    layout = ib.write_oci_layout(tmp_path / "layout", image, "v1")
    [record] = load_archive(settings, layout)
    assert record.names == ("localhost/v1:latest",)  # podman's rule for a name without a registry
    assert_stored(settings, image, ["localhost/v1:latest"])


def test_oci_index_picks_the_host_platform(settings, tmp_path):
    from kubeplay.images.platform import host_platform

    index = ib.multiarch_index()
    layout = ib.write_oci_layout(tmp_path / "multi", index, "localhost/multi:1")
    [record] = load_archive(settings, layout)
    assert record.architecture == host_platform().architecture
    assert record.config.labels[ib.ARCH_LABEL] == host_platform().architecture


def test_missing_path(settings, tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_archive(settings, tmp_path / "nope.tar")


def test_garbage_file(settings, tmp_path):
    path = tmp_path / "garbage.tar"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(ContentError) as caught:
        load_archive(settings, path)
    assert str(path) in caught.value.message and caught.value.hint
    assert_nothing_stored(settings)


def test_tar_that_is_not_an_image(settings, tmp_path):
    path = tmp_path / "plain.tar"
    path.write_bytes(ib.layer_tar([ib.file("hello", "x")]))
    with pytest.raises(ContentError, match="neither manifest.json"):
        load_archive(settings, path)


@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_truncated_archive_stores_nothing(settings, tmp_path, image, kind):
    full = tmp_path / "full.tar"
    if kind == "docker":
        ib.write_docker_archive(full, image, ["localhost/t:1"])
    else:
        ib.write_oci_archive(full, image, "localhost/t:1")
    with tarfile.open(full) as tar:  # cut inside the members, not in the zero padding after them
        end = max(m.offset_data + m.size for m in tar.getmembers())
    cut = tmp_path / "cut.tar"
    cut.write_bytes(full.read_bytes()[: end * 2 // 3])
    with pytest.raises(ContentError) as caught:
        load_archive(settings, cut)
    assert str(cut) in caught.value.message
    assert_nothing_stored(settings)


def test_corrupt_layer_in_docker_archive_stores_nothing(settings, tmp_path, image):
    members = ib.docker_archive_members(image, ["localhost/c:1"])
    layer_name = image.layers[1].diff_id.split(":")[1] + "/layer.tar"
    members[layer_name] = ib.layer_tar([ib.file("other", "content")])  # no longer matches the config
    path = tmp_path / "corrupt.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ContentError, match="diff id"):
        load_archive(settings, path)
    assert_nothing_stored(settings)


def test_oci_blob_with_wrong_digest(settings, tmp_path, image):
    layout = ib.write_oci_layout(tmp_path / "bad", image, "localhost/bad:1")
    blob = layout / "blobs/sha256" / image.layers[0].blob.digest.split(":")[1]
    blob.write_bytes(b"tampered")
    with pytest.raises(ContentError) as caught:
        load_archive(settings, layout)
    assert str(layout) in caught.value.message
    assert_nothing_stored(settings)


def test_empty_index(settings, tmp_path):
    layout = tmp_path / "empty"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": []}))
    with pytest.raises(ContentError, match="holds no images"):
        load_archive(settings, layout)

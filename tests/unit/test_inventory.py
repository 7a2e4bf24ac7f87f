"""The image index, commit, local lookup, and rmi/prune semantics, on small images built here."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import ConflictError, ContentError, NotFoundError
from kubeplay.images.commit import LayerBlob, commit_image
from kubeplay.images.content import ContentStore
from kubeplay.images.inventory import inspect_images, list_images, prune_images, remove_images
from kubeplay.images.layers import LayerStore
from kubeplay.images.lookup import image_index, resolve_local_image
from kubeplay.store.db import open_database
from tests.support import imagebuild as ib


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    return settings


def small_image(tag: str, shared: ib.Layer | None = None, **config) -> ib.Image:
    own = ib.Layer(ib.layer_tar([ib.directory("etc"), ib.file("etc/which", tag)]))
    layers = [shared, own] if shared else [own]
    return ib.make_image(layers, **config)


def store(settings: Settings, image: ib.Image, names: list[str]):
    content = ContentStore(settings.root)
    for layer in image.layers:
        content.put_bytes(layer.blob.data)
    return commit_image(
        settings, names=names, manifest_digest=image.manifest.digest, manifest_bytes=image.manifest.data,
        config_bytes=image.config.data,
        layers=[LayerBlob(l.blob.digest, l.blob.size, l.blob.media_type) for l in image.layers],
    )


def add_container(settings: Settings, image_id: str, pod: str = "web", name: str = "app") -> None:
    db = open_database(settings.root)
    try:
        with db.transaction() as conn:
            conn.execute("INSERT INTO pods (name, id, plan, created_at) VALUES (?,?,?,?)",
                         (pod, pod + "-id", "{}", time.time()))
            conn.execute("INSERT INTO containers (id, pod_name, name, role, position, image_id) VALUES (?,?,?,?,?,?)",
                         (pod + name, pod, name, "member", 0, image_id))
    finally:
        db.close()


def test_commit_records_config_and_unpacks(settings):
    image = small_image("one", cmd=["sh"], entrypoint=["/bin/env"], env=["A=1"], working_dir="/w",
                        user="app", labels={"k": "v"})
    record = store(settings, image, ["docker.io/library/one:latest"])
    assert record.id == image.config.digest
    assert record.names == ("docker.io/library/one:latest",)
    assert record.diff_ids == (image.layers[0].diff_id,)
    assert record.config.cmd == ("sh",) and record.config.entrypoint == ("/bin/env",)
    assert record.config.env == ("A=1",) and record.config.working_dir == "/w" and record.config.user == "app"
    assert record.config.labels == {"k": "v"}
    assert record.architecture == "amd64" and record.created.startswith("2023-")
    assert (LayerStore(settings.root).path(record.diff_ids[0]) / "etc/which").read_text() == "one"
    assert ContentStore(settings.root).has(image.manifest.digest)


def test_commit_rejects_wrong_diff_ids_and_leaves_no_layer(settings):
    good, other = small_image("good"), small_image("other")
    bad = ib.Image(good.config, other.layers)  # config lists good's diff id, the blob holds other's
    with pytest.raises(ContentError, match="diff id"):
        store(settings, bad, ["localhost/bad:latest"])
    assert LayerStore(settings.root).diff_ids() == []
    assert list_images(settings) == []


def test_names_merge_and_move(settings):
    first = store(settings, small_image("a"), ["localhost/app:v1"])
    again = store(settings, small_image("a"), ["localhost/app:latest"])
    assert again.id == first.id and set(again.names) == {"localhost/app:v1", "localhost/app:latest"}
    newer = store(settings, small_image("b"), ["localhost/app:latest"])  # a re-pull moves the name
    with image_index(settings) as index:
        assert index.get_by_id(first.id).names == ("localhost/app:v1",)
        assert index.get_by_name("localhost/app:latest").id == newer.id
        assert [r.id for r in index.list()] == [newer.id, first.id]


def test_resolve_by_short_name_and_id_prefix(settings):
    hub = store(settings, small_image("hub"), ["docker.io/library/busybox:latest"])
    local = store(settings, small_image("local"), ["localhost/tool:latest"])
    assert resolve_local_image(settings, "busybox").id == hub.id
    assert resolve_local_image(settings, "busybox:latest").id == hub.id
    assert resolve_local_image(settings, "tool").id == local.id  # a short name finds localhost/tool
    assert resolve_local_image(settings, "localhost/tool").id == local.id
    assert resolve_local_image(settings, local.id[7:19]).id == local.id
    assert resolve_local_image(settings, local.id).id == local.id
    digest_ref = f"docker.io/library/busybox@{hub.manifest_digest}"
    assert resolve_local_image(settings, digest_ref).id == hub.id
    with pytest.raises(NotFoundError) as caught:
        resolve_local_image(settings, "nothere")
    assert "kubeplay pull nothere" in caught.value.hint


def test_ambiguous_id_prefix(settings):
    from kubeplay.model.image import ImageConfig, ImageRecord
    from kubeplay.store.images import ImageIndex

    ids = ["sha256:" + "ab" * 31 + "01", "sha256:" + "ab" * 31 + "02"]
    db = open_database(settings.root)
    try:
        index = ImageIndex(db)
        for image_id in ids:
            index.add(ImageRecord(id=image_id, names=(), manifest_digest="sha256:" + "0" * 64, diff_ids=(),
                                  config=ImageConfig(), size=1), [])
        with pytest.raises(ConflictError, match="ambiguous"):
            index.get_by_id("abab")
        assert index.get_by_id("abab" * 15 + "ab02").id == ids[1]
        assert index.get_by_id("sha256:" + "ab" * 31 + "01").id == ids[0]
        assert index.get_by_id("cd") is None and index.get_by_id("not-hex") is None
    finally:
        db.close()


def test_rmi_untags_then_deletes_and_frees_unshared_layers(settings):
    base = ib.Layer(ib.layer_tar([ib.file("base", "shared")]))
    one = store(settings, small_image("one", shared=base), ["localhost/one:latest", "localhost/one:v1"])
    two = store(settings, small_image("two", shared=base), ["localhost/two:latest"])
    layers = LayerStore(settings.root)
    removal = remove_images(settings, ["localhost/one:v1"])
    assert removal.untagged == ["localhost/one:v1"] and removal.deleted == []
    removal = remove_images(settings, ["one"])
    assert removal.deleted == [one.id]
    assert layers.has(base.diff_id)  # still used by two
    assert not layers.has(one.diff_ids[1])
    assert not ContentStore(settings.root).has(one.manifest_digest)
    remove_images(settings, [two.id[7:19]])
    assert layers.diff_ids() == []
    assert list(ContentStore(settings.root).digests()) == []


def test_rmi_by_id_with_several_names_needs_force(settings):
    record = store(settings, small_image("x"), ["localhost/x:a", "localhost/x:b"])
    with pytest.raises(ConflictError, match="several names"):
        remove_images(settings, [record.id])
    assert remove_images(settings, [record.id], force=True).deleted == [record.id]


def test_rmi_refuses_image_in_use(settings):
    record = store(settings, small_image("used"), ["localhost/used:latest"])
    add_container(settings, record.id)
    with pytest.raises(ConflictError) as caught:
        remove_images(settings, ["localhost/used:latest"])
    assert "web/app" in caught.value.message
    removal = remove_images(settings, ["localhost/used:latest"], force=True)
    assert removal.kept_in_use == [record.id] and removal.deleted == []
    assert LayerStore(settings.root).has(record.diff_ids[0])  # the pod keeps its layers
    with pytest.raises(NotFoundError):
        remove_images(settings, ["localhost/missing:latest"])


def test_prune_dangling_and_all(settings):
    old = store(settings, small_image("old"), ["localhost/app:latest"])
    new = store(settings, small_image("new"), ["localhost/app:latest"])  # old is now dangling
    used = store(settings, small_image("used"), ["localhost/used:latest"])
    add_container(settings, used.id)
    assert prune_images(settings).deleted == [old.id]
    assert prune_images(settings, all_images=True).deleted == [new.id]
    assert [r.id for r in list_images(settings)] == [used.id]


def test_inspect_gives_layers(settings):
    record = store(settings, small_image("i"), ["localhost/i:latest"])
    [data] = inspect_images(settings, ["i"])
    assert data["id"] == record.id and data["names"] == ["localhost/i:latest"]
    assert data["layers"][0]["diff_id"] == record.diff_ids[0]
    assert Path(data["layers"][0]["path"]).is_dir()
    json.dumps(data)  # the CLI prints it as JSON


def test_cli_lists_inspects_and_removes(settings, tmp_path):
    from click.testing import CliRunner

    from kubeplay.cli.main import cli

    record = store(settings, small_image("c"), ["localhost/c:v1", "docker.io/library/c:latest"])
    base = ["--root", str(settings.root), "--runroot", str(settings.runroot)]
    runner = CliRunner()
    listing = runner.invoke(cli, [*base, "images"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.split()[:3] == ["localhost/c", "v1", record.id[7:19]] for line in lines[1:])
    assert runner.invoke(cli, [*base, "images", "-q"]).output.split() == [record.id[7:19]]
    inspected = json.loads(runner.invoke(cli, [*base, "image", "inspect", "c"]).output)
    assert inspected[0]["id"] == record.id
    removed = runner.invoke(cli, [*base, "rmi", "localhost/c:v1"])
    assert removed.output.splitlines() == ["Untagged: localhost/c:v1"]
    removed = runner.invoke(cli, [*base, "image", "rm", "c"])
    assert removed.output.splitlines() == ["Untagged: docker.io/library/c:latest", f"Deleted: {record.id[7:]}"]
    assert runner.invoke(cli, [*base, "image", "ls", "--format", "json"]).output.strip() == "[]"

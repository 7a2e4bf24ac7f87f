"""Stored image records read back by the standard library: equal to what pydantic reads, every field
of the model covered, and a record that does not fit named by its key."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from kubeplay.model.image import ImageConfig, ImageRecord
from kubeplay.model.serial import InvalidData, from_json, to_json
from kubeplay.store.image_records import CONFIG_SHAPES, RECORD_SHAPES, read_image_record

FULL = ImageRecord(
    id="sha256:" + "a" * 64, names=("docker.io/library/busybox:latest",), manifest_digest="sha256:" + "b" * 64,
    diff_ids=("sha256:" + "c" * 64, "sha256:" + "d" * 64),
    config=ImageConfig(entrypoint=("/bin/sh", "-c"), cmd=("echo", "\u00e9"), env=("PATH=/bin",), working_dir="/w",
                       user="1000:1000", exposed_ports=("80/tcp",), volumes=("/data",), labels={"a": "b"},
                       stop_signal="SIGQUIT"),
    size=1234, created="2026-01-01T00:00:00Z", os="linux", architecture="arm64", variant="v8")


def test_every_field_of_the_model_has_a_shape():
    assert list(RECORD_SHAPES) == [f.name for f in fields(ImageRecord)]
    assert list(CONFIG_SHAPES) == [f.name for f in fields(ImageConfig)]


def test_a_record_reads_back_as_pydantic_reads_it():
    for record in (FULL, replace(FULL, config=ImageConfig()), replace(FULL, names=(), variant="")):
        text = to_json(record)
        assert read_image_record(text) == from_json(ImageRecord, text) == record


def test_keys_it_does_not_know_are_ignored_and_missing_ones_default():
    data = json.loads(to_json(FULL))
    data["retired"] = 1
    del data["variant"], data["config"]["stop_signal"]
    record = read_image_record(json.dumps(data))
    assert record == replace(FULL, variant="", config=replace(FULL.config, stop_signal=""))


@pytest.mark.parametrize("change, where", [
    (lambda d: d.update(size="12"), "size: not an integer"),
    (lambda d: d.update(size=True), "size: not an integer"),
    (lambda d: d.pop("id"), "id: missing"),
    (lambda d: d["config"].update(env=["A=1", 7]), "config.env: not a list of strings"),
    (lambda d: d["config"].update(cmd="echo"), "config.cmd: not a list of strings or null"),
    (lambda d: d["config"].update(labels={"a": 1}), "config.labels: not an object of strings"),
    (lambda d: d.update(config=[]), "config: not an object"),
])
def test_a_record_that_does_not_fit_names_the_key(change, where):
    data = json.loads(to_json(FULL))
    change(data)
    with pytest.raises(InvalidData, match=f"^{where}$"):
        read_image_record(json.dumps(data))


@pytest.mark.parametrize("text", ["{not json", "[]"])
def test_a_record_that_is_no_object_is_invalid_at_the_top_level(text):
    with pytest.raises(InvalidData, match="^the top level: "):
        read_image_record(text)


def test_a_damaged_record_in_the_store_names_the_image_and_the_way_out(tmp_path):
    from kubeplay.errors import StoreCorrupted
    from kubeplay.store.db import open_database
    from kubeplay.store.images import ImageIndex

    db = open_database(tmp_path)
    try:
        index = ImageIndex(db)
        index.add(replace(FULL, diff_ids=()), [])
        assert index.get_by_name(FULL.names[0]) == replace(FULL, diff_ids=())
        with db.transaction() as conn:
            conn.execute("""UPDATE images SET record='{"id": 5}'""")
        with pytest.raises(StoreCorrupted) as caught:
            index.get_by_name(FULL.names[0])
        assert str(caught.value.message).endswith(f"image {FULL.id} cannot be read: id: not a string")
        assert f"rmi -f {FULL.id}" in caught.value.hint
    finally:
        db.close()

"""Platforms and manifest-list choice, and pull up to the content store against in-process registries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import NotFoundError, ReferenceFormatError
from kubeplay.images import platform as platforms
from kubeplay.images.content import ContentStore
from kubeplay.images.distribution import OCI_INDEX
from kubeplay.images.platform import Platform, parse_platform, select_manifest
from kubeplay.images.pull import fetch_image, pull_image
from kubeplay.images.registries import RegistriesConf, Registry
from tests.unit.test_distribution import FakeRegistry, registry, running_registry, sha  # noqa: F401

# -- platforms -------------------------------------------------------------------------------

@pytest.mark.parametrize("machine, expected", [
    ("x86_64", "linux/amd64"), ("aarch64", "linux/arm64/v8"), ("armv7l", "linux/arm/v7"),
    ("armv6l", "linux/arm/v6"), ("i686", "linux/386"), ("ppc64le", "linux/ppc64le"), ("s390x", "linux/s390x"),
])
def test_host_platform(machine: str, expected: str) -> None:
    assert str(platforms.host_platform(machine)) == expected


def test_host_platform_reads_this_machine() -> None:
    assert platforms.host_platform() == platforms.host_platform(os.uname().machine)


@pytest.mark.parametrize("text, expected", [
    ("linux/arm64/v8", Platform("linux", "arm64", "v8")), ("linux/amd64", Platform("linux", "amd64")),
    ("arm64", Platform("linux", "arm64")), ("linux/x86_64", Platform("linux", "amd64")),
])
def test_parse_platform(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["", "linux/", "a/b/c/d", "/amd64"])
def test_bad_platform(text: str) -> None:
    with pytest.raises(ReferenceFormatError, match="platform"):
        parse_platform(text)


def entry(name: str, arch: str, variant: str = "", os: str = "linux") -> dict:
    platform = {"os": os, "architecture": arch} | ({"variant": variant} if variant else {})
    return {"digest": name, "platform": platform}


INDEX = {"manifests": [
    entry("amd64", "amd64"), entry("arm-v6", "arm", "v6"), entry("arm-v7", "arm", "v7"),
    entry("arm64-plain", "arm64"), entry("arm64-v8", "arm64", "v8"), entry("attest", "unknown", os="unknown"),
]}


@pytest.mark.parametrize("want, chosen", [
    (Platform("linux", "amd64"), "amd64"),
    (Platform("linux", "arm", "v7"), "arm-v7"),
    (Platform("linux", "arm", "v6"), "arm-v6"),
    (Platform("linux", "arm64", "v8"), "arm64-v8"),
    (Platform("linux", "arm64"), "arm64-plain"),
])
def test_select_manifest(want: Platform, chosen: str) -> None:
    assert select_manifest(INDEX, want, "img")["digest"] == chosen


def test_select_prefers_exact_variant_over_blank() -> None:
    index = {"manifests": [entry("blank", "arm"), entry("v7", "arm", "v7")]}
    assert select_manifest(index, Platform("linux", "arm", "v7"), "img")["digest"] == "v7"


def test_arm64_v8_takes_a_blank_variant() -> None:
    index = {"manifests": [entry("amd", "amd64"), entry("arm64", "arm64")]}
    assert select_manifest(index, Platform("linux", "arm64", "v8"), "img")["digest"] == "arm64"


def test_arm_v7_runs_v6_when_nothing_better() -> None:
    index = {"manifests": [entry("v5", "arm", "v5"), entry("v6", "arm", "v6")]}
    assert select_manifest(index, Platform("linux", "arm", "v7"), "img")["digest"] == "v6"


def test_no_matching_platform_lists_the_available_ones() -> None:
    with pytest.raises(NotFoundError) as caught:
        select_manifest(INDEX, Platform("linux", "riscv64"), "quay.io/x:1")
    message = caught.value.message
    assert "quay.io/x:1" in message and "linux/riscv64" in message
    assert "linux/arm/v7" in message and "linux/amd64" in message and "unknown" not in message


# -- pull up to the content store ------------------------------------------------------------

def settings_in(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path / "root", runroot=tmp_path / "run")


def conf_for(*registries: FakeRegistry) -> RegistriesConf:
    hosts = [fake.host for fake in registries]
    return RegistriesConf(unqualified_search_registries=hosts,
                          registries=tuple(Registry(prefix=h, location=h, insecure=True) for h in hosts))


def fetch(tmp_path: Path, reference: str, conf: RegistriesConf, **options) -> object:
    return fetch_image(settings_in(tmp_path), reference, registries=conf, backoff=0.01, **options)


def blob_gets(fake: FakeRegistry) -> list[str]:
    return [path for path, _ in fake.requests if "/blobs/" in path]


def test_fetch_stores_config_layers_and_manifest(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.add_image("team/app", "1", [b"l1", b"l2", b"l3", b"l4", b"l5", b"l6"])
    lines: list[str] = []
    fetched = fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry), progress=lines.append)
    store = ContentStore(tmp_path / "root")
    assert fetched.manifest_digest == image["digest"]
    assert [blob.digest for blob in fetched.layers] == [layer["digest"] for layer in image["layers"]]
    assert all(store.has(layer["digest"], layer["size"]) for layer in image["layers"])
    assert store.read_bytes(image["digest"]) == fetched.manifest_bytes
    assert fetched.config_bytes == store.read_bytes(image["config"]["digest"])
    assert str(fetched.reference) == f"{registry.host}/team/app:1"
    assert any(line.startswith("Trying to pull") for line in lines)


def layer_tar(name: str, data: bytes = b"content") -> bytes:
    """An uncompressed layer: its blob digest is its diff id, as the fake registry's configs say."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def use_registry(registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf_file = tmp_path / "registries.conf"
    conf_file.write_text(f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(conf_file))


def test_pull_unpacks_layers_while_downloading(registry: FakeRegistry, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeplay.images.layers import LayerStore

    layers = [layer_tar("a"), layer_tar("b", b"bee")]
    registry.add_image("team/app", "1", layers)
    fetched = fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry), unpack=True)
    store = LayerStore(tmp_path / "root")
    diff_ids = [sha(layer) for layer in layers]
    assert sorted(fetched.unpacked) == sorted(diff_ids)
    assert (store.path(diff_ids[1]) / "b").read_bytes() == b"bee"
    again = fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry), unpack=True)
    assert again.unpacked == (), "layers already unpacked are not unpacked again"
    use_registry(registry, tmp_path, monkeypatch)
    record = pull_image(settings_in(tmp_path), f"{registry.host}/team/app:1", tls_verify=False)
    assert list(record.diff_ids) == diff_ids


def test_failed_pull_removes_the_layers_it_unpacked(registry: FakeRegistry, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeplay.errors import ContentError
    from kubeplay.images.layers import LayerStore

    good = layer_tar("good")
    bad = b"not a tar archive at all, but its digest matches" * 20
    registry.add_image("team/app", "1", [good, bad])
    with pytest.raises(ContentError, match="cannot be unpacked"):
        fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry), unpack=True)
    store = LayerStore(tmp_path / "root")
    assert store.diff_ids() == [], "the good layer unpacked first is removed again"
    assert ContentStore(tmp_path / "root").has(sha(good)), "verified blobs are kept for a retry"
    registry.add_image("team/app", "2", [good])
    use_registry(registry, tmp_path, monkeypatch)
    commit = pytest.importorskip("kubeplay.images.commit")

    def failing_commit(settings: Settings, **kwargs: object) -> None:
        assert store.has(sha(good)), "the layer is unpacked before commit"
        raise ContentError("commit failed", hint="test")

    monkeypatch.setattr(commit, "commit_image", failing_commit)
    with pytest.raises(ContentError, match="commit failed"):
        pull_image(settings_in(tmp_path), f"{registry.host}/team/app:2", tls_verify=False)
    assert store.diff_ids() == [], "a failed commit leaves no layer the pull unpacked"


def test_blobs_already_present_are_skipped(registry: FakeRegistry, tmp_path: Path) -> None:
    registry.add_image("team/app", "1", [b"l1", b"l2"])
    fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry))
    first = len(blob_gets(registry))
    fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry))
    assert first == 3 and len(blob_gets(registry)) == first, "the second pull fetches no blob"


def test_interrupted_pull_completes_on_rerun(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.add_image("team/app", "1", [b"done", b"half", b"never"])
    store = ContentStore(tmp_path / "root")
    store.put_bytes(b"done")
    # what a killed pull leaves: a partial temporary file, never visible as a blob
    (store.root / "sha256" / ".ingest-killed").write_bytes(b"ha")
    fetch(tmp_path, f"{registry.host}/team/app:1", conf_for(registry))
    fetched_paths = blob_gets(registry)
    assert not any(image["layers"][0]["digest"] in path for path in fetched_paths)
    assert len(fetched_paths) == 3, "config and the two missing layers"
    assert all(store.has(layer["digest"], layer["size"]) for layer in image["layers"])


def test_manifest_list_platform_choice(registry: FakeRegistry, tmp_path: Path) -> None:
    amd = registry.add_image("team/app", "amd", [b"amd64 layer"], arch="amd64")
    arm = registry.add_image("team/app", "arm", [b"arm64 layer"], arch="arm64")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": d["digest"],
         "size": d["size"], "platform": {"os": "linux", "architecture": a}}
        for d, a in ((amd, "amd64"), (arm, "arm64"))]}
    registry.add_manifest("team/app", "multi", index, OCI_INDEX)
    fetched = fetch(tmp_path, f"{registry.host}/team/app:multi", conf_for(registry), platform="linux/arm64")
    assert fetched.manifest_digest == arm["digest"]
    gets = blob_gets(registry)
    assert any(arm["layers"][0]["digest"] in path for path in gets)
    assert not any(amd["layers"][0]["digest"] in path for path in gets), "only the chosen platform's layers"
    with pytest.raises(NotFoundError, match="linux/amd64, linux/arm64"):
        fetch(tmp_path, f"{registry.host}/team/app:multi", conf_for(registry), platform="linux/s390x")


def test_short_name_tries_each_search_registry(tmp_path: Path) -> None:
    with running_registry() as empty, running_registry() as full:
        image = full.add_image("team/app", "1", [b"x"])
        fetched = fetch(tmp_path, "team/app:1", conf_for(empty, full))
        assert fetched.manifest_digest == image["digest"]
        assert str(fetched.reference) == f"{full.host}/team/app:1"
        assert any("/manifests/1" in path for path, _ in empty.requests), "the first registry was asked"


def test_short_name_found_nowhere_lists_every_try(tmp_path: Path) -> None:
    with running_registry() as one, running_registry() as two:
        with pytest.raises(NotFoundError) as caught:
            fetch(tmp_path, "team/app:1", conf_for(one, two))
        assert one.host in caught.value.message and two.host in caught.value.message


def test_mirror_is_tried_before_the_location(tmp_path: Path) -> None:
    with running_registry() as mirror, running_registry() as origin:
        image = origin.add_image("team/app", "1", [b"x"])
        mirror.add_image("team/app", "1", [b"x"])
        from kubeplay.images.registries import Mirror

        conf = RegistriesConf(registries=(Registry(prefix=origin.host, location=origin.host, insecure=True,
                                                   mirrors=(Mirror(mirror.host, True),)),))
        fetched = fetch(tmp_path, f"{origin.host}/team/app:1", conf)
        assert fetched.manifest_digest == image["digest"]
        assert blob_gets(mirror) and not blob_gets(origin)
        assert str(fetched.reference) == f"{origin.host}/team/app:1", "the image keeps the name asked for"


def test_pull_image_hands_blobs_to_commit(registry: FakeRegistry, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    commit = pytest.importorskip("kubeplay.images.commit")
    image = registry.add_image("team/app", "1", [layer_tar("l1"), layer_tar("l2")])
    use_registry(registry, tmp_path, monkeypatch)
    calls: list[dict] = []
    monkeypatch.setattr(commit, "commit_image", lambda settings, **kwargs: calls.append(kwargs) or "record")
    result = pull_image(settings_in(tmp_path), f"{registry.host}/team/app:1", tls_verify=False)
    assert result == "record"
    (call,) = calls
    assert call["names"] == [f"{registry.host}/team/app:1"] and call["manifest_digest"] == image["digest"]
    assert [(layer.digest, layer.size) for layer in call["layers"]] == [
        (layer["digest"], layer["size"]) for layer in image["layers"]]
    assert call["layers"][0].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert b'"diff_ids"' in call["config_bytes"]

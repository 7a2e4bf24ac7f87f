"""Bad input to the image commands: each fails with one `error:` line and a `hint:`, no traceback,
and leaves nothing in the store."""

from __future__ import annotations

import pytest

from tests.support.registry import HtmlServer


def _assert_nothing_stored(kp) -> None:
    assert kp.images_json() == []
    assert kp.blob_paths() == []


@pytest.mark.parametrize("reference", ["Bad//Name", "localhost:5000/x:tag:extra", "x@sha256:1234", ""])
def test_malformed_reference(kp, reference) -> None:
    # offline: a malformed name must be refused before any lookup, and must not reach the network
    result = kp("pull", reference, offline=True)
    result.assert_fails_cleanly(exit_codes=(1,))
    _assert_nothing_stored(kp)


def test_unknown_host(kp, no_tls_flag) -> None:
    result = kp("pull", no_tls_flag, "nonexistent.invalid:5000/x", offline=True, timeout=90)
    result.assert_fails_cleanly(mentions=("nonexistent.invalid",))
    _assert_nothing_stored(kp)


@pytest.mark.registry
def test_unknown_tag_on_the_local_registry(kp, registry, test_images, no_tls_flag) -> None:
    result = kp("pull", no_tls_flag, f"{registry.host}/test/busybox:no-such-tag")
    result.assert_fails_cleanly(exit_codes=(1,), mentions=("no-such-tag",))
    _assert_nothing_stored(kp)


@pytest.mark.registry
def test_unknown_repository_on_the_local_registry(kp, registry, no_tls_flag) -> None:
    result = kp("pull", no_tls_flag, f"{registry.host}/test/never-pushed:latest")
    result.assert_fails_cleanly(exit_codes=(1,), mentions=("never-pushed",))
    _assert_nothing_stored(kp)


def test_registry_answering_html(kp, no_tls_flag) -> None:
    server = HtmlServer()
    try:
        result = kp("pull", no_tls_flag, f"{server.host}/some/image:latest")
    finally:
        server.close()
    result.assert_fails_cleanly(mentions=(server.host,))
    _assert_nothing_stored(kp)


@pytest.mark.parametrize("content", [b"", b"this is not a tar archive\n" * 100, b"\x1f\x8b\x08garbage"])
def test_garbage_archive(kp, tmp_path, content) -> None:
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(content)
    result = kp("image", "load", "-i", str(garbage))
    result.assert_fails_cleanly(mentions=("garbage.tar",))
    _assert_nothing_stored(kp)


def test_tar_that_is_no_image_archive(kp, tmp_path, archives) -> None:
    # a valid tar (a rootfs) is still not a docker- or oci-archive
    result = kp("image", "load", "-i", str(archives.rootfs_tar))
    result.assert_fails_cleanly(mentions=(archives.rootfs_tar.name,))
    _assert_nothing_stored(kp)


def test_load_of_a_missing_file_names_it(kp, tmp_path) -> None:
    result = kp("image", "load", "-i", str(tmp_path / "nowhere.tar"))
    result.assert_fails_cleanly(exit_codes=(1,), mentions=("nowhere.tar",))
    _assert_nothing_stored(kp)

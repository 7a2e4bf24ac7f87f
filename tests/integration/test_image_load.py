"""`kubeplay image load` of the three archive forms: docker-archive, oci-archive, OCI layout dir."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import find_values

FORMS = ["docker_archive", "oci_archive", "oci_layout"]


@pytest.mark.parametrize("form", FORMS)
def test_load_archive_stores_the_image_under_its_name(kp, archives, form) -> None:
    source = getattr(archives, form)
    result = kp("image", "load", "-i", str(source))
    assert result.returncode == 0, result.stderr
    assert "localhost/archived/busybox:v1" in result.stdout + result.stderr

    listed = [e for e in kp.images_json() if archives.repo_tag in json.dumps(e)]
    assert len(listed) == 1, kp.images_json()
    shown = kp.inspect_json(archives.repo_tag)
    assert ["sh"] in find_values(shown, "cmd")
    text = json.dumps(shown)
    assert archives.image.config.digest.split(":")[1][:12] in text
    assert archives.image.layers[0].diff_id in text


def test_load_same_archive_twice_keeps_one_image(kp, archives) -> None:
    for _ in range(2):
        result = kp("image", "load", "-i", str(archives.docker_archive))
        assert result.returncode == 0, result.stderr
    assert len(kp.images_json()) == 1


def test_loaded_and_pulled_busybox_are_the_same_image(kp, archives, test_images, no_tls_flag) -> None:
    assert kp("image", "load", "-i", str(archives.oci_archive)).returncode == 0
    assert kp("pull", no_tls_flag, test_images.busybox).returncode == 0
    # one image (one config digest) carrying both names
    listed = kp.images_json()
    assert len(listed) == 1, listed
    text = json.dumps(listed[0])
    assert archives.repo_tag in text and test_images.busybox in text

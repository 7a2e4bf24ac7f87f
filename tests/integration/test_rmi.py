"""`kubeplay rmi`: removing an unused image, refusing one a pod uses, and unknown names."""

from __future__ import annotations

import importlib.util
import json
import uuid

import pytest


def _load(kp, archives) -> None:
    result = kp("image", "load", "-i", str(archives.docker_archive))
    assert result.returncode == 0, result.stderr


def test_rmi_removes_an_unused_image_and_its_blobs(kp, archives) -> None:
    _load(kp, archives)
    assert kp.images_json()
    result = kp("rmi", archives.repo_tag)
    assert result.returncode == 0, result.stderr

    assert kp.images_json() == []
    kp("image", "inspect", archives.repo_tag, "--format", "json").assert_fails_cleanly(exit_codes=(1,))
    stored = [p.name for p in kp.blob_paths()]
    assert archives.image.config.digest.split(":")[1] not in stored


def test_rmi_by_id_prefix(kp, archives) -> None:
    _load(kp, archives)
    result = kp("rmi", archives.image.config.digest.split(":")[1][:12])
    assert result.returncode == 0, result.stderr
    assert kp.images_json() == []


def test_rmi_of_an_unknown_image_fails_naming_it(kp) -> None:
    result = kp("rmi", "localhost/never-pulled:v9")
    result.assert_fails_cleanly(exit_codes=(1,), mentions=("localhost/never-pulled:v9",))


def test_rmi_keeps_an_image_that_still_has_another_name(kp, archives, test_images, no_tls_flag) -> None:
    _load(kp, archives)
    assert kp("pull", no_tls_flag, test_images.busybox).returncode == 0
    assert kp("rmi", archives.repo_tag).returncode == 0
    [left] = kp.images_json()
    text = json.dumps(left)
    assert test_images.busybox in text and archives.repo_tag not in text


POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: {image}
    imagePullPolicy: Never
    # a shell as PID 1 ignores SIGTERM unless it traps it; trap it so `down` is quick
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 60 & wait"]
"""


@pytest.mark.root
def test_rmi_of_an_image_in_use_is_refused(kp, archives, tmp_path) -> None:
    if importlib.util.find_spec("kubeplay.cli.play") is None:
        pytest.skip("kubeplay play is not implemented yet")
    _load(kp, archives)
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD_YAML.format(name=f"rmi-{uuid.uuid4().hex[:6]}", image=archives.repo_tag))
    played = kp("play", str(manifest), timeout=180)
    assert played.returncode == 0, played.stderr
    try:
        result = kp("rmi", archives.repo_tag)
        result.assert_fails_cleanly(exit_codes=(1,), mentions=("in use",))
        assert kp.images_json()
    finally:
        down = kp("down", str(manifest), timeout=180)
        assert down.returncode == 0, down.stderr
    assert kp("rmi", archives.repo_tag).returncode == 0

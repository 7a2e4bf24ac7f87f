"""`kubeplay image import`: a rootfs tar becomes a one-layer image, with --change applied to its config."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import find_values


def test_import_rootfs_with_changes(kp, archives) -> None:
    result = kp("image", "import", str(archives.rootfs_tar), "localhost/imported:v1",
                "--change", 'CMD ["/bin/echo","hi"]', "--change", "ENV A=1")
    assert result.returncode == 0, result.stderr

    shown = kp.inspect_json("localhost/imported:v1")
    assert ["/bin/echo", "hi"] in find_values(shown, "cmd")
    assert any("A=1" in env for env in find_values(shown, "env") if isinstance(env, list))
    # the layer is the tar itself: its digest is the image's only diff id
    assert archives.image.layers[0].diff_id in json.dumps(shown)
    assert [e for e in kp.images_json() if "localhost/imported:v1" in json.dumps(e)]


def test_import_without_changes_has_no_command(kp, archives) -> None:
    result = kp("image", "import", str(archives.rootfs_tar), "localhost/plain:v1")
    assert result.returncode == 0, result.stderr
    shown = kp.inspect_json("localhost/plain:v1")
    assert all(value in (None, []) for value in find_values(shown, "cmd"))


@pytest.mark.parametrize("change", ["FROB x", "ENV", "RUN echo no"])
def test_import_rejects_a_bad_change(kp, archives, change) -> None:
    result = kp("image", "import", str(archives.rootfs_tar), "localhost/bad:v1", "--change", change)
    result.assert_fails_cleanly(exit_codes=(1,))
    assert kp.images_json() == []


def test_import_of_a_missing_file_names_it(kp, tmp_path) -> None:
    missing = tmp_path / "no-such-rootfs.tar"
    result = kp("image", "import", str(missing), "localhost/missing:v1")
    result.assert_fails_cleanly(exit_codes=(1,), mentions=("no-such-rootfs.tar",))

"""Unpacked layers mounted as a real overlay show exactly what the layers mean."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.images.commit import LayerBlob, commit_image
from kubeplay.images.content import ContentStore
from kubeplay.images.layers import LayerStore
from tests.support import imagebuild as ib

pytestmark = pytest.mark.root


def _store(settings: Settings, image: ib.Image, name: str):
    content = ContentStore(settings.root)
    for layer in image.layers:
        content.put_bytes(layer.blob.data)
    return commit_image(
        settings, names=[name], manifest_digest=image.manifest.digest, manifest_bytes=image.manifest.data,
        config_bytes=image.config.data,
        layers=[LayerBlob(l.blob.digest, l.blob.size, l.blob.media_type) for l in image.layers],
    )


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as mounts:
        return any(line.split()[4] == target for line in mounts)


@pytest.fixture
def overlay(tmp_path: Path):
    """Mounts lowerdirs (topmost first) with a fresh upper/work dir; always unmounted afterwards."""
    merged = tmp_path / "merged"
    mounted: list[Path] = []

    def mount(lowers: list[Path]) -> Path:
        for name in ("upper", "work", "merged"):
            (tmp_path / name).mkdir()
        options = f"lowerdir={':'.join(map(str, lowers))},upperdir={tmp_path / 'upper'},workdir={tmp_path / 'work'}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
                       check=True, capture_output=True, timeout=30)
        mounted.append(merged)
        return merged

    yield mount
    for path in mounted:
        subprocess.run(["umount", str(path)], check=False, capture_output=True, timeout=30)
        assert not _mounted(path)


def test_three_layer_overlay(tmp_path, overlay):
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    image = ib.layered_image()  # busybox, then data/{a,b} + opq/x, then: b whited out, opq opaque + y
    record = _store(settings, image, "localhost/layered:latest")
    layers = LayerStore(settings.root)
    top = layers.path(record.diff_ids[2])
    assert stat.S_ISCHR(os.lstat(top / "data/b").st_mode)  # the whiteout as overlayfs wants it
    assert os.getxattr(top / "opq", "trusted.overlay.opaque") == b"y"

    merged = overlay([layers.path(d) for d in reversed(record.diff_ids)])
    assert (merged / "data/a").read_text() == "a\n"
    assert not os.path.lexists(merged / "data/b")  # hidden by the whiteout
    assert sorted(os.listdir(merged / "data")) == ["a"]
    assert sorted(os.listdir(merged / "opq")) == ["y"]  # the opaque dir hides the lower opq/x
    assert (merged / "opq/y").read_text() == "y\n"
    assert os.access(merged / "bin/busybox", os.X_OK)
    assert os.path.islink(merged / "bin/sh") and os.path.realpath(merged / "bin/sh") == str(merged / "bin/busybox")
    assert stat.S_IMODE(os.stat(merged / "tmp").st_mode) == 0o1777
    assert os.stat(merged / "home/app").st_uid == 1000

    # writes land in the upper dir; the shared layer dirs stay untouched
    (merged / "data/a").write_text("changed\n")
    assert (layers.path(record.diff_ids[1]) / "data/a").read_text() == "a\n"
    assert (tmp_path / "upper/data/a").read_text() == "changed\n"


def test_two_images_share_a_layer_in_overlays(tmp_path, overlay):
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    base = ib.Layer(ib.layer_tar([ib.directory("etc"), ib.file("etc/base", "base\n"), ib.file("etc/rm-me", "x")]))
    upper = ib.Layer(ib.layer_tar([ib.directory("etc"), ib.file("etc/.wh.rm-me", b""), ib.file("etc/new", "n\n")]))
    first = _store(settings, ib.make_image([base], cmd=["sh"]), "localhost/one:latest")
    second = _store(settings, ib.make_image([base, upper], cmd=["sh"]), "localhost/two:latest")
    assert first.diff_ids[0] == second.diff_ids[0]
    layers = LayerStore(settings.root)
    assert len(layers.diff_ids()) == 2  # the shared base was unpacked once
    merged = overlay([layers.path(d) for d in reversed(second.diff_ids)])
    assert sorted(os.listdir(merged / "etc")) == ["base", "new"]
    assert (layers.path(base.diff_id) / "etc/rm-me").read_text() == "x"  # the lower layer itself is unchanged

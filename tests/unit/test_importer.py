"""`image import`: rootfs tars become one-layer images; --change instructions shape the config."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import ContentError, UserError
from kubeplay.images.content import ContentStore
from kubeplay.images.importer import apply_changes, import_rootfs
from kubeplay.images.inventory import list_images
from kubeplay.images.layers import LayerStore
from tests.support import imagebuild as ib


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    return settings


@pytest.fixture
def rootfs() -> bytes:
    return ib.layer_tar([ib.directory("bin"), ib.file("bin/hello", "#!/bin/sh\necho hi\n", 0o755)])


def test_plain_tar_with_changes(settings, tmp_path, rootfs):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(rootfs)
    record = import_rootfs(settings, path, "myimage", [
        'CMD ["/bin/hello", "--loud"]',
        "ENTRYPOINT /bin/sh -c 'exec \"$@\"'",
        "ENV A=1 B=\"two words\"",
        "ENV=C=3",
        "WORKDIR /srv",
        "USER 1000:1000",
        "EXPOSE 8080 53/udp",
        "LABEL org.example.team=core",
        "STOPSIGNAL SIGINT",
    ])
    assert record.names == ("localhost/myimage:latest",)
    assert record.diff_ids == ("sha256:" + hashlib.sha256(rootfs).hexdigest(),)
    config = record.config
    assert config.cmd == ("/bin/hello", "--loud")
    assert config.entrypoint == ("/bin/sh", "-c", "/bin/sh -c 'exec \"$@\"'")
    assert config.env == ("A=1", "B=two words", "C=3")
    assert config.working_dir == "/srv" and config.user == "1000:1000"
    assert config.exposed_ports == ("53/udp", "8080/tcp")
    assert config.labels == {"org.example.team": "core"}
    assert config.stop_signal == "SIGINT"
    hello = LayerStore(settings.root).path(record.diff_ids[0]) / "bin/hello"
    assert hello.read_text().startswith("#!") and hello.stat().st_mode & 0o777 == 0o755


def test_gzip_tar_and_qualified_name(settings, tmp_path, rootfs):
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(rootfs))
    record = import_rootfs(settings, path, "quay.io/team/tool:v2", [])
    assert record.names == ("quay.io/team/tool:v2",)
    assert record.diff_ids == ("sha256:" + hashlib.sha256(rootfs).hexdigest(),)
    assert record.config.cmd is None


def test_unknown_instruction_is_a_user_error_and_stores_nothing(settings, tmp_path, rootfs):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(rootfs)
    with pytest.raises(UserError, match="unknown instruction RUN") as caught:
        import_rootfs(settings, path, "x", ["RUN apt-get update"])
    assert "CMD" in caught.value.hint
    assert list(ContentStore(settings.root).digests()) == []


@pytest.mark.parametrize("change, message", [
    ("EXPOSE http", "not a port"),
    ("EXPOSE 70000", "not a port"),
    ("ENV", "KEY=VALUE"),
    ("LABEL =v", "not KEY=VALUE"),
    ("WORKDIR", "needs a value"),
    ("CMD", "needs a command"),
])
def test_bad_changes(change, message):
    with pytest.raises(UserError, match=message):
        apply_changes({}, [change])


def test_legacy_env_form_and_lowercase_instruction():
    config = apply_changes({}, ["env GREETING hello world", "cmd echo hi"])
    assert config["Env"] == ["GREETING=hello world"]
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]


def test_not_a_tar_stores_nothing(settings, tmp_path):
    path = tmp_path / "junk.tar"
    path.write_bytes(b"definitely not a tar archive" * 100)
    with pytest.raises(ContentError) as caught:
        import_rootfs(settings, path, "junk", [])
    assert str(path) in caught.value.message
    assert list_images(settings) == []
    assert list(ContentStore(settings.root).digests()) == []
    assert LayerStore(settings.root).diff_ids() == []


def test_missing_file(settings, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        import_rootfs(settings, tmp_path / "nope.tar", "x", [])

"""Layer unpacking: whiteouts, escapes, links, modes and compressions, on tars built here."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from kubeplay.errors import ContentError
from kubeplay.images.layers import LayerStore, diff_id_of

ROOT = os.geteuid() == 0


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = fields.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.mtime = fields.pop("mtime", 1_600_000_000)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def make_tar(entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def write_blob(tmp_path: Path, data: bytes, name: str = "blob") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def store(tmp_path: Path) -> LayerStore:
    return LayerStore(tmp_path / "root")


def unpack(store: LayerStore, tmp_path: Path, entries) -> Path:
    data = make_tar(entries)
    diff_id = store.unpack(write_blob(tmp_path, data), "application/vnd.oci.image.layer.v1.tar")
    assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    return store.path(diff_id)


def test_files_dirs_modes_and_mtimes(store, tmp_path):
    layer = unpack(store, tmp_path, [
        entry("bin", tarfile.DIRTYPE, mode=0o711, mtime=1_500_000_000),
        entry("bin/tool", data=b"#!/bin/sh\n", mode=0o4755),
        entry("tmp", tarfile.DIRTYPE, mode=0o1777),
        entry("etc/hostname", data=b"box\n", mode=0o600),  # parent not in the tar
    ])
    assert (layer / "bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE(os.stat(layer / "bin/tool").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(layer / "bin").st_mode) == 0o711
    assert stat.S_IMODE(os.stat(layer / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(layer / "etc/hostname").st_mode) == 0o600
    assert os.stat(layer / "bin").st_mtime == 1_500_000_000  # set after its child was written
    assert os.stat(layer / "bin/tool").st_mtime == 1_600_000_000


@pytest.mark.skipif(not ROOT, reason="owners need root")
def test_owners_kept(store, tmp_path):
    layer = unpack(store, tmp_path, [entry("data", data=b"x", uid=1234, gid=5678, mode=0o2755)])
    info = os.stat(layer / "data")
    assert (info.st_uid, info.st_gid) == (1234, 5678)
    assert stat.S_IMODE(info.st_mode) == 0o2755  # chown did not clear setgid


def test_symlinks_and_hardlinks(store, tmp_path):
    layer = unpack(store, tmp_path, [
        entry("bin/busybox", data=b"ELF", mode=0o755),
        entry("bin/sh", tarfile.LNKTYPE, linkname="bin/busybox"),
        entry("bin/ls", tarfile.SYMTYPE, linkname="/bin/busybox"),
        entry("usr", tarfile.SYMTYPE, linkname="../outside"),  # dangling targets are fine for symlinks
    ])
    assert os.stat(layer / "bin/sh").st_ino == os.stat(layer / "bin/busybox").st_ino
    assert os.readlink(layer / "bin/ls") == "/bin/busybox"
    assert os.readlink(layer / "usr") == "../outside"


def test_whiteout_and_opaque(store, tmp_path):
    layer = unpack(store, tmp_path, [
        entry("etc", tarfile.DIRTYPE),
        entry("etc/.wh.motd"),
        entry("var/cache/.wh..wh..opq"),
        entry("var/cache/new", data=b"n"),
    ])
    info = os.lstat(layer / "etc/motd")
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(0, 0)
    assert not (layer / "etc/.wh.motd").exists()
    xattr = "trusted.overlay.opaque" if ROOT else "user.overlay.opaque"
    assert os.getxattr(layer / "var/cache", xattr) == b"y"
    assert not (layer / "var/cache/.wh..wh..opq").exists()
    assert (layer / "var/cache/new").read_bytes() == b"n"


def test_fifo_and_xattr(store, tmp_path):
    info, data = entry("bin/ping", data=b"p")
    info.pax_headers = {"SCHILY.xattr.user.test": "hello", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    layer = unpack(store, tmp_path, [entry("run/pipe", tarfile.FIFOTYPE), (info, data)])
    assert stat.S_ISFIFO(os.lstat(layer / "run/pipe").st_mode)
    assert os.getxattr(layer / "bin/ping", "user.test") == b"hello"
    with pytest.raises(OSError):  # a layer may not forge overlay metadata
        os.getxattr(layer / "bin/ping", "trusted.overlay.opaque")


@pytest.mark.skipif(not ROOT, reason="device nodes need root")
def test_device_nodes(store, tmp_path):
    layer = unpack(store, tmp_path, [entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)])
    info = os.lstat(layer / "dev/null")
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("entries, what", [
    ([entry("../evil", data=b"x")], "'..'"),
    ([entry("a/../../evil", data=b"x")], "'..'"),
    ([entry("/etc/evil", data=b"x")], "absolute"),
    ([entry("link", tarfile.SYMTYPE, linkname="/tmp"), entry("link/evil", data=b"x")], "symlink"),
    ([entry("link", tarfile.SYMTYPE, linkname="."), entry("link/.wh.x")], "symlink"),
    ([entry("hard", tarfile.LNKTYPE, linkname="../../etc/passwd")], "'..'"),
    ([entry("hard", tarfile.LNKTYPE, linkname="/etc/passwd")], "absolute"),
    ([entry("dir", tarfile.SYMTYPE, linkname="/etc"), entry("hard", tarfile.LNKTYPE, linkname="dir/passwd")],
     "symlink"),
    # a directory already used, then replaced by a symlink: the next entry below it is refused
    ([entry("a/b/f", data=b"x"), entry("a/b", tarfile.SYMTYPE, linkname="/etc"), entry("a/b/evil", data=b"x")],
     "symlink"),
    ([entry("a", tarfile.DIRTYPE), entry("a", tarfile.SYMTYPE, linkname="/tmp"), entry("a/.wh..wh..opq")],
     "symlink"),
])
def test_escapes_refused(store, tmp_path, entries, what):
    blob = write_blob(tmp_path, make_tar(entries, fmt=tarfile.GNU_FORMAT))
    with pytest.raises(ContentError) as caught:
        store.unpack(blob)
    assert "escapes the layer" in caught.value.message and what in caught.value.message
    assert blob.name in caught.value.message
    assert store.diff_ids() == []  # nothing half-unpacked is visible
    assert [p.name for p in store.root.iterdir()] == []


def test_gzip_and_zstd_give_the_diff_id_of_the_tar(store, tmp_path):
    import zstandard

    data = make_tar([entry("hello", data=b"world")])
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    gz = write_blob(tmp_path, gzip.compress(data), "gz")
    zst = write_blob(tmp_path, zstandard.ZstdCompressor().compress(data), "zst")
    assert diff_id_of(gz) == expected and diff_id_of(zst) == expected
    assert store.unpack(gz, "application/vnd.oci.image.layer.v1.tar+gzip") == expected
    store.remove(expected)
    assert not store.has(expected)
    assert store.unpack(zst, "application/vnd.oci.image.layer.v1.tar+zstd") == expected
    assert (store.path(expected) / "hello").read_bytes() == b"world"


def test_unpack_twice_and_expected_diff_id(store, tmp_path):
    data = make_tar([entry("a", data=b"1")])
    blob = write_blob(tmp_path, data)
    first = store.unpack(blob)
    assert store.unpack(blob) == first  # a second unpack finds the layer in place
    assert store.diff_ids() == [first]
    with pytest.raises(ContentError, match="diff id"):
        store.unpack(write_blob(tmp_path, make_tar([entry("b", data=b"2")]), "other"),
                     expected_diff_id="sha256:" + "0" * 64)
    assert store.diff_ids() == [first]


def test_truncated_and_garbage_blobs(store, tmp_path):
    data = gzip.compress(make_tar([entry("big", data=os.urandom(50_000))]))
    with pytest.raises(ContentError, match="cannot be"):
        store.unpack(write_blob(tmp_path, data[: len(data) // 2], "cut"))
    with pytest.raises(ContentError, match="cannot be unpacked"):
        store.unpack(write_blob(tmp_path, b"this is not a tar archive at all" * 40, "junk"))
    assert store.diff_ids() == []


def test_later_entry_replaces_earlier(store, tmp_path):
    layer = unpack(store, tmp_path, [
        entry("x", data=b"file"),
        entry("x", tarfile.DIRTYPE),
        entry("x/y", data=b"inner"),
        entry("z", tarfile.DIRTYPE),
        entry("z", data=b"now a file"),
    ])
    assert (layer / "x/y").read_bytes() == b"inner"
    assert (layer / "z").read_bytes() == b"now a file"


def test_replaced_directory_keeps_no_metadata_and_file_keeps_its_own(store, tmp_path):
    layer = unpack(store, tmp_path, [
        entry("d", tarfile.DIRTYPE, mode=0o700, mtime=1_400_000_000),
        entry("d/inner", data=b"i"),
        entry("d", data=b"file now", mode=0o640),
        entry("e/f", data=b"f"),
        entry("e", tarfile.SYMTYPE, linkname="target"),
        entry("e2", tarfile.DIRTYPE),
        entry("e2/g", data=b"g"),
        entry("e2/.wh.g"),
    ])
    assert (layer / "d").read_bytes() == b"file now"
    assert stat.S_IMODE(os.stat(layer / "d").st_mode) == 0o640  # not the replaced directory's 0700
    assert os.stat(layer / "d").st_mtime == 1_600_000_000
    assert os.readlink(layer / "e") == "target"
    assert stat.S_ISCHR(os.lstat(layer / "e2/g").st_mode)  # the whiteout replaced the file


def test_many_entries_in_nested_directories(store, tmp_path):
    names = [f"usr/share/d{i % 7}/s{i % 3}/f{i}" for i in range(300)]
    layer = unpack(store, tmp_path, [entry(name, data=name.encode(), mode=0o644) for name in names])
    assert all((layer / name).read_bytes() == name.encode() for name in names)
    assert all(stat.S_IMODE(os.stat(layer / name).st_mode) == 0o644 for name in names[:10])


def test_concurrent_unpacks_of_one_layer_both_succeed(store, tmp_path):
    import threading

    data = gzip.compress(make_tar([entry(f"dir{i}/file{j}", data=b"x" * 1000) for i in range(20) for j in range(20)]))
    blob = write_blob(tmp_path, data)
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(store.unpack(blob))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(set(results)) == 1 and len(results) == 4
    assert store.diff_ids() == results[:1]
    assert len(os.listdir(store.path(results[0]))) == 20
    assert [p.name for p in store.root.iterdir()] == [results[0].split(":")[1]]  # no staging dirs left


def test_aufs_metadata_is_not_a_whiteout(store, tmp_path):
    layer = unpack(store, tmp_path, [
        entry("etc", tarfile.DIRTYPE),
        entry("etc/keep", data=b"k"),
        entry("etc/.wh."),
        entry(".wh..wh.plnk", tarfile.DIRTYPE),
    ])
    assert (layer / "etc/keep").read_bytes() == b"k"
    assert sorted(os.listdir(layer)) == ["etc"]


def _inode_flags(path: Path) -> int | None:
    import array
    import fcntl

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("i", [0, 0])
        fcntl.ioctl(fd, 0x80086601, flags, True)  # FS_IOC_GETFLAGS
        return flags[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def test_layer_store_is_marked_top_of_hierarchies(store, tmp_path):
    from kubeplay.images.layers import spread_subdirectories

    store.unpack(write_blob(tmp_path, make_tar([entry("a", data=b"1")])))
    flags = _inode_flags(store.root)
    if flags is None:
        pytest.skip("this filesystem has no inode flags")
    probe = tmp_path / "probe"
    probe.mkdir()
    spread_subdirectories(probe)
    if not (_inode_flags(probe) or 0) & 0x00020000:
        pytest.skip("this filesystem does not keep the top-of-hierarchy flag")
    assert flags & 0x00020000  # FS_TOPDIR_FL
    spread_subdirectories(tmp_path / "missing")  # nothing to mark: no error

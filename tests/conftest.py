"""Shared test fixtures: local registries, the busybox test images, archives and a CLI runner.

Session fixtures build every test image once and push them to a docker-registry on 127.0.0.1; a test
gets its own kubeplay store through `kp` (fresh --root/--runroot, removed afterwards, mounts first).
Tests marked `root` are skipped for other users; registry fixtures skip when docker-registry is absent.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# `tests.support` is imported as a package from the repository root, whatever pytest's rootdir mode
_REPO = str(Path(__file__).resolve().parent.parent)
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.support import imagebuild  # noqa: E402
from tests.support.cli import KubeplayRunner  # noqa: E402
from tests.support.registry import Registry, RegistryUnavailable  # noqa: E402

BIG_LAYER_BYTES = 50 << 20


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "root: needs root, a real OCI runtime, conmon, overlayfs and netns")
    config.addinivalue_line("markers", "registry: needs the session's local docker-registry")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip_root = pytest.mark.skip(reason="needs root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip_root)


def _start_registry(workdir: Path, auth: tuple[str, str] | None = None) -> Registry:
    try:
        return Registry(workdir, auth=auth).start()
    except RegistryUnavailable as exc:
        pytest.skip(f"no local registry: {exc}")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubeplay-session")


@pytest.fixture(scope="session")
def image_cache() -> imagebuild.ImageCache:
    return imagebuild.ImageCache()


@pytest.fixture(scope="session")
def registry(session_dir: Path):
    running = _start_registry(session_dir / "registry")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def auth_registry(session_dir: Path):
    running = _start_registry(session_dir / "auth-registry", auth=("kptest", "s3cret-pass"))
    yield running
    running.stop()


@dataclass(frozen=True)
class TestImages:
    """References (HOST:PORT/repo:tag) of the pushed images, with the built objects behind them."""

    __test__ = False  # not a test class, despite the name

    busybox: str
    layered: str
    entrypoint: str
    multiarch: str
    cache: imagebuild.ImageCache

    def image(self, name: str) -> imagebuild.Image:
        built = self.cache.get(name)
        assert isinstance(built, imagebuild.Image)
        return built

    def index(self) -> imagebuild.ImageIndex:
        built = self.cache.get("multiarch")
        assert isinstance(built, imagebuild.ImageIndex)
        return built


@pytest.fixture(scope="session")
def test_images(registry: Registry, image_cache: imagebuild.ImageCache) -> TestImages:
    client = registry.client()
    refs = {}
    for name in ("busybox", "layered", "entrypoint"):
        built = image_cache.get(name)
        assert isinstance(built, imagebuild.Image)
        client.push_image(f"test/{name}", "latest", built)
        refs[name] = f"{registry.host}/test/{name}:latest"
    index = image_cache.get("multiarch")
    assert isinstance(index, imagebuild.ImageIndex)
    client.push_index("test/multiarch", "latest", index)
    refs["multiarch"] = f"{registry.host}/test/multiarch:latest"
    return TestImages(cache=image_cache, **refs)


@pytest.fixture(scope="session")
def big_image(registry: Registry) -> tuple[str, imagebuild.Image]:
    """A one-layer image of ~50 MB that does not compress, for interrupted-pull tests."""
    built = imagebuild.random_image(BIG_LAYER_BYTES, seed="kubeplay-big-layer")
    registry.client().push_image("test/big", "latest", built)
    return f"{registry.host}/test/big:latest", built


@dataclass(frozen=True)
class Archives:
    docker_archive: Path
    oci_archive: Path
    oci_layout: Path
    rootfs_tar: Path
    image: imagebuild.Image
    repo_tag: str


@pytest.fixture(scope="session")
def archives(session_dir: Path, image_cache: imagebuild.ImageCache) -> Archives:
    """busybox as a docker-archive, an oci-archive and an OCI layout directory, plus a rootfs tar."""
    directory = session_dir / "archives"
    directory.mkdir()
    built = image_cache.get("busybox")
    assert isinstance(built, imagebuild.Image)
    repo_tag = "localhost/archived/busybox:v1"
    return Archives(
        docker_archive=imagebuild.write_docker_archive(directory / "busybox-docker.tar", built, [repo_tag]),
        oci_archive=imagebuild.write_oci_archive(directory / "busybox-oci.tar", built, repo_tag),
        oci_layout=imagebuild.write_oci_layout(directory / "busybox-layout", built, repo_tag),
        rootfs_tar=imagebuild.write_rootfs_tar(directory / "busybox-rootfs.tar"),
        image=built,
        repo_tag=repo_tag,
    )


@pytest.fixture(scope="session")
def no_tls_flag() -> str:
    """The pull/login option that allows plain HTTP, in whichever spelling the CLI accepts."""
    probe = KubeplayRunner(Path(tempfile.mkdtemp(prefix="kp-probe-", dir="/tmp")))
    try:
        helps = [probe(command, "--help", timeout=60).stdout for command in ("pull", "login")]
    finally:
        probe.cleanup()
    return "--no-tls-verify" if any("--no-tls-verify" in text for text in helps) else "--tls-verify=false"


@pytest.fixture
def kp():
    """A CLI runner with fresh --root/--runroot; short paths because socket paths are limited to 108 bytes."""
    runner = KubeplayRunner(Path(tempfile.mkdtemp(prefix="kp-", dir="/tmp")))
    yield runner
    runner.cleanup()

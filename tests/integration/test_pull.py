"""`kubeplay pull` against a real docker-registry on 127.0.0.1: single-arch, multi-arch, auth,
corrupt content and an interrupted transfer."""

from __future__ import annotations

import json
import platform
import signal
import uuid

import pytest

from tests.support import imagebuild as ib
from tests.support.cli import KubeplayRunner, find_values
from tests.support.registry import Registry, ThrottledProxy

pytestmark = pytest.mark.registry

HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _listed(kp: KubeplayRunner, reference: str) -> list[dict]:
    return [entry for entry in kp.images_json() if reference in json.dumps(entry)]


def test_pull_single_arch_busybox_lists_and_inspects(kp, test_images, no_tls_flag) -> None:
    image = test_images.image("busybox")
    result = kp("pull", no_tls_flag, test_images.busybox)
    assert result.returncode == 0, result.stderr

    [entry] = _listed(kp, test_images.busybox)
    sizes = [v for v in find_values(entry, "size") if isinstance(v, int)]
    # the busybox layer is ~1 MB compressed and ~2 MB unpacked; either is a fair "size"
    assert sizes and 900_000 <= sizes[0] <= 10_000_000, entry
    shown = kp.inspect_json(test_images.busybox)
    assert ["sh"] in find_values(shown, "cmd")
    assert image.config.digest.split(":")[1][:12] in json.dumps(shown)


def test_pull_quiet_prints_the_image_id_only(kp, test_images, no_tls_flag) -> None:
    result = kp("pull", "-q", no_tls_flag, test_images.busybox)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert len(lines) == 1 and test_images.image("busybox").config.digest.split(":")[1][:12] in lines[0]


def test_pull_again_keeps_one_image(kp, test_images, no_tls_flag) -> None:
    for _ in range(2):
        result = kp("pull", no_tls_flag, test_images.busybox)
        assert result.returncode == 0, result.stderr
    assert len(kp.images_json()) == 1


def test_pull_entrypoint_image_keeps_its_runtime_config(kp, test_images, no_tls_flag) -> None:
    assert kp("pull", no_tls_flag, test_images.entrypoint).returncode == 0
    shown = kp.inspect_json(test_images.entrypoint)
    assert ["/bin/echo", "from-entrypoint"] in find_values(shown, "entrypoint")
    assert ["default-cmd"] in find_values(shown, "cmd")
    assert "app" in find_values(shown, "user")
    assert "/tmp" in find_values(shown, "working_dir") + find_values(shown, "workingdir")
    assert any("GREETING=hello" in env for env in find_values(shown, "env") if isinstance(env, list))


@pytest.mark.root
def test_pull_layered_image_with_whiteouts(kp, test_images, no_tls_flag) -> None:
    result = kp("pull", no_tls_flag, test_images.layered)
    assert result.returncode == 0, result.stderr
    text = json.dumps(kp.inspect_json(test_images.layered))
    for layer in test_images.image("layered").layers:
        assert layer.diff_id in text


def _arch_of(shown: dict) -> str:
    labels = [v for v in find_values(shown, "labels") if isinstance(v, dict) and ib.ARCH_LABEL in v]
    assert labels, shown
    return labels[0][ib.ARCH_LABEL]


def test_pull_multiarch_index_picks_this_hosts_platform(kp, test_images, no_tls_flag) -> None:
    if HOST_ARCH not in ("amd64", "arm64"):
        pytest.skip(f"the test index has no manifest for {HOST_ARCH}")
    assert kp("pull", no_tls_flag, test_images.multiarch).returncode == 0
    shown = kp.inspect_json(test_images.multiarch)
    assert _arch_of(shown) == HOST_ARCH
    assert any(f"TEST_ARCH={HOST_ARCH}" in env for env in find_values(shown, "env") if isinstance(env, list))


def test_pull_multiarch_index_honours_platform_option(kp, test_images, no_tls_flag) -> None:
    other = "arm64" if HOST_ARCH != "arm64" else "amd64"
    result = kp("pull", "--platform", f"linux/{other}", no_tls_flag, test_images.multiarch)
    assert result.returncode == 0, result.stderr
    shown = kp.inspect_json(test_images.multiarch)
    assert _arch_of(shown) == other
    wanted = [i for i in test_images.index().images if i.config_json["architecture"] == other][0]
    assert wanted.config.digest.split(":")[1][:12] in json.dumps(shown)


def test_pull_platform_missing_from_index_fails(kp, test_images, no_tls_flag) -> None:
    result = kp("pull", "--platform", "linux/s390x", no_tls_flag, test_images.multiarch)
    result.assert_fails_cleanly(mentions=("s390x",))
    assert kp.images_json() == []


# ---- authentication ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_images(auth_registry: Registry, image_cache) -> dict[str, str]:
    client = auth_registry.client()
    refs = {}
    for repo in ("private/busybox", "private/other"):
        client.push_image(repo, "latest", image_cache.get("busybox"))
        refs[repo] = f"{auth_registry.host}/{repo}:latest"
    return refs


def test_pull_without_login_is_refused_naming_the_registry(kp, auth_registry, auth_images, no_tls_flag) -> None:
    result = kp("pull", no_tls_flag, auth_images["private/busybox"])
    result.assert_fails_cleanly(exit_codes=(1,), mentions=(auth_registry.host,))
    assert kp.images_json() == []


def test_login_with_wrong_password_fails_and_stores_nothing(kp, auth_registry, no_tls_flag) -> None:
    result = kp("login", auth_registry.host, "-u", auth_registry.user, "-p", "wrong-password",
                no_tls_flag, "--authfile", str(kp.authfile))
    result.assert_fails_cleanly(exit_codes=(1,), mentions=(auth_registry.host,))
    if kp.authfile.exists():
        assert auth_registry.host not in kp.authfile.read_text()


def test_login_pull_logout(kp, auth_registry, auth_images, no_tls_flag) -> None:
    result = kp("login", auth_registry.host, "-u", auth_registry.user, "-p", auth_registry.password,
                no_tls_flag, "--authfile", str(kp.authfile))
    assert result.returncode == 0, result.stderr
    assert auth_registry.host in json.loads(kp.authfile.read_text())["auths"]
    assert auth_registry.password not in kp.authfile.read_text()  # stored base64-encoded, as podman does

    result = kp("pull", no_tls_flag, "--authfile", str(kp.authfile), auth_images["private/busybox"])
    assert result.returncode == 0, result.stderr
    assert _listed(kp, auth_images["private/busybox"])

    result = kp("logout", auth_registry.host)
    assert result.returncode == 0, result.stderr
    assert auth_registry.host not in json.loads(kp.authfile.read_text()).get("auths", {})
    kp("pull", no_tls_flag, auth_images["private/other"]).assert_fails_cleanly(exit_codes=(1,))


# ---- content that lies, transfers that break -----------------------------------------------------


def test_blob_not_matching_its_digest_is_refused(kp, registry: Registry, no_tls_flag) -> None:
    image = ib.random_image(256 << 10, seed=uuid.uuid4().hex)  # a layer no other test shares
    repository = f"test/corrupt-{uuid.uuid4().hex[:8]}"
    registry.client().push_image(repository, "latest", image)
    layer = image.layers[0].blob
    stored = registry.blob_data_path(layer.digest)
    stored.write_bytes(bytes(b ^ 0xFF for b in stored.read_bytes()))  # same size, other bytes

    result = kp("pull", no_tls_flag, f"{registry.host}/{repository}:latest")
    result.assert_fails_cleanly(exit_codes=(125,), mentions=(layer.digest.split(":")[1][:12],))
    assert kp.images_json() == []
    assert layer.digest.split(":")[1] not in [p.name for p in kp.blob_paths()]


def test_pull_killed_half_way_succeeds_when_run_again(kp, registry: Registry, big_image, no_tls_flag) -> None:
    reference, image = big_image
    proxy = ThrottledProxy(registry.port)
    try:
        via_proxy = reference.replace(registry.host, proxy.host)
        process = kp.popen("pull", no_tls_flag, via_proxy)
        try:
            # past the manifest and config, well into the 50 MB layer
            reached = proxy.wait_for_bytes(4 << 20, timeout=60)
            assert process.poll() is None, process.communicate(timeout=10)
            assert reached, "the pull never got into the big layer"
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
        assert kp.images_json() == []
        assert image.layers[0].blob.digest.split(":")[1] not in [p.name for p in kp.blob_paths()]

        proxy.throttled = False
        result = kp("pull", no_tls_flag, via_proxy, timeout=180)
        assert result.returncode == 0, result.stderr
        assert _listed(kp, via_proxy)
        assert image.config.digest.split(":")[1][:12] in json.dumps(kp.inspect_json(via_proxy))
    finally:
        proxy.close()

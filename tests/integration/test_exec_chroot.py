"""exec from inside a chroot: the runtime's exec enters the root of the mount namespace, which there is
the host's and not the container's, so kubeplay refuses instead of running a command on the host's
files, and `system check` names the cause."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.test_pod_network import sh

pytestmark = pytest.mark.root


def in_chroot(pods, directory, *args: str) -> subprocess.CompletedProcess:
    """kubeplay run in a chroot onto a bind mount of /, in a mount namespace of its own (gone with it)."""
    directory.mkdir(exist_ok=True)
    script = 'mount --rbind / "$0" && exec chroot "$0" "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(directory),
                           *pods.kp.argv(*args)], capture_output=True, text=True, timeout=60, env=pods.kp.env,
                          stdin=subprocess.DEVNULL)


def test_exec_from_a_chroot_is_refused_and_system_check_names_it(pods, tmp_path):
    manifest = pods.write("c.yaml", pods.pod("chrooted", sh("c", "echo inside > /marker; exec sleep 3600")))
    assert pods("play", str(manifest)).returncode == 0
    pods.wait_for(lambda: pods("exec", "chrooted", "--", "cat", "/marker").stdout.strip() == "inside",
                  what="the marker in the container")

    refused = in_chroot(pods, tmp_path / "chroot", "exec", "chrooted", "--", "cat", "/etc/hostname")
    assert refused.returncode == 125, refused
    assert ('cannot exec in container "c" of pod "chrooted": kubeplay runs inside a chroot, where the runtime\'s '
            "exec would enter the host's root") in refused.stderr
    assert refused.stdout == "" and "Traceback" not in refused.stderr

    check = in_chroot(pods, tmp_path / "chroot", "system", "check")
    assert "kubeplay runs inside a chroot" in check.stdout + check.stderr, check
    plain = pods("system", "check")
    assert "kubeplay runs inside a chroot" not in plain.stdout + plain.stderr
    assert pods("down", str(manifest)).returncode == 0

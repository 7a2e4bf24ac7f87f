"""Long waits say what they wait for, at intervals, instead of going silent."""

from __future__ import annotations

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


def test_play_wait_names_the_init_container_being_retried(pods):
    setup = {"name": "setup", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", "exit 3"]}
    main = {"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "300"]}
    manifest = pods.write("init.yaml", pods.pod("stuck", main, initContainers=[setup]))
    result = pods("play", "--wait", "--timeout", "12s", str(manifest), timeout=60)
    assert result.returncode == 1, result.stderr
    waiting = [line for line in result.stderr.splitlines() if line.startswith("waiting for pod stuck")]
    assert waiting, result.stderr
    # the first report comes at 10 s, when the first back-off (10 s) may just have ended: it then
    # names the init container's next try instead of its wait
    assert ("init container setup exited with code 3 and is retried with back-off" in waiting[0]
            or "init container setup is running (try 2)" in waiting[0]), waiting
    assert "timed out after 12s" in result.stderr

"""A pull shows its progress: bars redrawn on a terminal (tested through a pseudo-terminal), one
line per layer without one, nothing with -q."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

from tests.support.cli import KubeplayRunner


def run_on_terminal(kp: KubeplayRunner, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal: (exit code, stdout, what the terminal got)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(kp.argv(*args), stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL,
                               env=kp.env, cwd=kp.base)
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the process closed its end
                    break
                if not chunk:
                    break
                screen += chunk
            elif process.poll() is not None:
                break
        out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    return process.returncode, out.decode(), screen.decode(errors="replace")


def test_a_pull_on_a_terminal_draws_per_layer_progress(kp, big_image, no_tls_flag):
    reference, image = big_image
    code, out, screen = run_on_terminal(kp, "pull", no_tls_flag, reference)
    assert code == 0, screen
    layer = image.layers[0].blob.digest.split(":")[1][:12]
    assert re.search(rf"Layer {layer}  \[[=> ]+\]  [\d.]+(B|KiB|MiB)/[\d.]+MiB  [\d.]+(B|KiB|MiB)/s  ETA ", screen), screen
    assert "\x1b[" in screen  # redrawn in place
    assert re.search(rf"Layer {layer}  =+  [\d.]+MiB  done in \d+s", screen), screen
    assert re.search(r"Pulled .*test/big:latest: 1 layer, [\d.]+MiB downloaded in \d+s", screen), screen
    assert out.strip().startswith(image.config.digest.split(":")[1][:12])


def test_a_pull_without_a_terminal_prints_a_line_per_layer_and_quiet_prints_none(kp, big_image, test_images,
                                                                                  no_tls_flag):
    reference, image = big_image
    result = kp("pull", no_tls_flag, reference)
    assert result.returncode == 0, result.stderr
    layer = image.layers[0].blob.digest.split(":")[1][:12]
    lines = result.stderr.splitlines()
    assert re.fullmatch(rf"Layer {layer}: [\d.]+MiB in \d+s", lines[0]), lines
    assert lines[-1].startswith(f"Pulled {reference}: 1 layer, ")
    assert "\x1b" not in result.stderr
    again = kp("pull", no_tls_flag, reference)
    assert again.stderr.splitlines()[0] == f"Layer {layer}: already here"
    assert ", 1 already here, 0B downloaded" in again.stderr

    quiet = kp("pull", "-q", no_tls_flag, test_images.busybox)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_a_play_on_a_terminal_draws_the_pulls_it_makes(pods, test_images, no_tls_flag):
    container = {"name": "c", "image": test_images.busybox, "command": ["sleep", "300"]}
    manifest = pods.write("pulled.yaml", pods.pod("pulled", container))
    code, out, screen = run_on_terminal(pods.kp, "play", no_tls_flag, str(manifest))
    assert code == 0, screen
    layer = test_images.image("busybox").layers[0].blob.digest.split(":")[1][:12]
    assert re.search(rf"Layer {layer}  =+  [\d.]+(KiB|MiB)  done in \d+s", screen), screen
    assert "pod/pulled created" in out

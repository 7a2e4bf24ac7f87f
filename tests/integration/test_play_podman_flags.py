"""podman's play flags on real pods: pulls with --creds, --annotation, --ip, --mac-address, the
refused --log-driver and --userns values, and --patch as a strategic merge patch."""

from __future__ import annotations

import ipaddress

import pytest
import yaml

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root


@pytest.fixture
def private_busybox(auth_registry, test_images) -> str:
    """busybox pushed to the registry that wants a login."""
    auth_registry.client().push_image("private/play-busybox", "latest", test_images.image("busybox"))
    return f"{auth_registry.host}/private/play-busybox:latest"


def test_play_pulls_with_creds_and_sets_annotation_ip_and_mac(pods, auth_registry, private_busybox, no_tls_flag):
    first = pods.write("first.yaml", pods.pod("first", {"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                                                       "command": ["sleep", "300"]}))
    assert pods("play", str(first)).returncode == 0
    subnet = ipaddress.ip_network(pods.inspect("first")["ip"] + "/24", strict=False)
    wanted = str(subnet.network_address + 200)
    private = {"name": "c", "image": private_busybox, "command": ["sleep", "300"]}
    manifest = pods.write("fixed.yaml", pods.pod("fixed", private))

    refused = pods("play", no_tls_flag, str(manifest))
    refused.assert_fails_cleanly((1,), mentions=(auth_registry.host,))
    result = pods("play", no_tls_flag, "--creds", f"{auth_registry.user}:{auth_registry.password}",
                  "--annotation", "team=web", "--annotation", "example.com/owner=me",
                  "--ip", wanted, "--mac-address", "92:D0:C6:0A:29:33", str(manifest))
    assert result.returncode == 0, result.stderr
    assert pods.inspect("fixed")["ip"] == wanted
    shown = pods("exec", "fixed", "--", "sh", "-c", "cat /sys/class/net/eth0/address; ip -4 -o addr show eth0")
    assert shown.stdout.splitlines()[0] == "92:d0:c6:0a:29:33"
    assert f"inet {wanted}/" in shown.stdout
    generated = yaml.safe_load(pods("generate", "fixed").stdout)
    assert generated["metadata"]["annotations"]["team"] == "web"
    assert generated["metadata"]["annotations"]["example.com/owner"] == "me"

    again = pods.write("again.yaml", pods.pod("again", {"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                                                       "command": ["sleep", "300"]}))
    pods("play", "--ip", wanted, str(again)).assert_fails_cleanly((1,), mentions=(wanted, "taken"))
    assert pods("pods", "--format", "json").stdout.count('"again"') == 0  # nothing half-made


@pytest.mark.parametrize("flag, value, named", [
    ("--log-driver", "journald", "k8s-file"), ("--userns", "auto", "userns"), ("--annotation", "no-equals", "KEY=VALUE"),
    ("--ip", "10.88.0.300", "IPv4"), ("--mac-address", "01:00:5e:00:00:01", "unicast"),
])
def test_unsupported_flag_values_are_refused_before_anything_is_made(pods, flag, value, named):
    manifest = pods.write("p.yaml", pods.pod("p", {"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                                                   "command": ["sleep", "300"]}))
    result = pods("play", flag, value, str(manifest))
    error = result.assert_fails_cleanly((1,))
    assert named.lower() in (error + result.stderr).lower()
    assert pods("pods", "--format", "json").stdout.strip() in ("[]", "")
    assert pods("play", "--log-driver", "k8s-file", "--userns", "host", "--dry-run", str(manifest)).returncode == 0


def test_strategic_patch_merges_env_and_reports_its_own_line(pods):
    container = {"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "300"],
                 "env": [{"name": "KEEP", "value": "kept"}, {"name": "MODE", "value": "slow"}]}
    manifest = pods.write("app.yaml", pods.pod("app", container))
    patch = pods.manifests / "patch.yaml"
    patch.write_text("kind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - name: app\n"
                     "    env: [{name: MODE, value: fast}]\n")
    result = pods("play", "--patch", str(patch), str(manifest))
    assert result.returncode == 0, result.stderr
    shown = pods("exec", "app", "--", "sh", "-c", 'echo "$KEEP $MODE"')
    assert shown.stdout.strip() == "kept fast"
    pods("down", str(manifest))

    patch.write_text("kind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - name: app\n"
                     "    ports:\n    - containerPort: 0\n")
    bad = pods("play", "--patch", str(patch), str(manifest))
    bad.assert_fails_cleanly((1,), mentions=(f"{patch}:7",))

"""A full pod from the corpus: every PodPlan field filled; quantities; security merging; probes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kubeplay.errors import ManifestError
from kubeplay.model.plan import ActionPlan, DnsPlan, HostAlias, PortMapping
from kubeplay.translate.context import TranslateOptions
from kubeplay.translate.loader import load
from kubeplay.translate.run import translate
from kubeplay.translate.container import default_pull_policy
from kubeplay.translate.quantity import QuantityError, to_millis, to_units
from tests.unit.test_translate_helpers import pod_yaml, run

DATA = Path(__file__).resolve().parent.parent / "data" / "manifests"


@pytest.fixture(scope="module")
def full():
    result = translate(load([str(DATA / "pod-full.yaml")]), TranslateOptions(network="net1"), rng=random.Random(1))
    assert result.warnings == []
    [pod] = result.pods
    return pod


def test_pod_level_fields(full):
    assert (full.name, full.namespace, full.network) == ("full", "default", "net1")
    assert full.labels == {"app": "full"} and full.annotations == {"note": "kept"}
    assert (full.restart_policy, full.termination_grace_period_seconds) == ("OnFailure", 5)
    assert (full.hostname, full.subdomain, full.share_process_namespace) == ("box", "sub", True)
    assert full.host_aliases == (HostAlias(ip="10.0.0.9", hostnames=("db", "db.local")),)
    assert full.dns == DnsPlan(policy="None", nameservers=("1.1.1.1",), searches=("example.com",),
                               options=(("ndots", "2"), ("edns0", None)))
    assert full.security.sysctls == {"net.ipv4.ip_unprivileged_port_start": "0"}
    assert full.source.file.endswith("pod-full.yaml") and full.source.document == 3
    assert {v.name: v.host_path for v in full.volumes}["host"] == str(DATA.resolve() / "shared")


def test_init_containers_and_sidecars(full):
    assert [c.name for c in full.init_containers] == ["setup", "sidecar"]
    assert full.init_containers[1].restart_policy == "Always"
    assert full.init_containers[0].restart_policy is None


def test_container_fields(full):
    app = full.containers[0]
    assert app.args == ("echo hello from full; exec httpd -f -p 8080",)
    assert (app.working_dir, app.tty, app.stdin) == ("/work", True, True)
    assert app.ports == (PortMapping(8080, "TCP", 18080, "127.0.0.1", "http"), PortMapping(5353, "UDP"))
    assert full.ports == (PortMapping(8080, "TCP", 18080, "127.0.0.1", "http"),)
    assert (app.resources.cpu_limit_millis, app.resources.cpu_request_millis) == (1000, 250)
    assert (app.resources.memory_limit, app.resources.memory_request) == (64 * 2**20, 32 * 2**20)
    mounts = {m.volume: m for m in app.mounts}
    assert mounts["config"].sub_path == "nginx.conf" and mounts["config"].read_only
    assert mounts["host"].propagation == "HostToContainer"


def test_security_contexts_merge_with_the_container_winning(full):
    security = full.containers[0].security
    assert (security.run_as_user, security.run_as_group) == (0, 1000)
    assert security.supplemental_groups == (5, 6) and security.fs_group == 2000
    assert security.capabilities_add == ("NET_BIND_SERVICE",) and security.capabilities_drop == ("ALL",)
    assert security.read_only_root_filesystem and security.allow_privilege_escalation is False
    assert security.seccomp_profile == "RuntimeDefault"
    assert full.init_containers[0].security.run_as_user == 1000


def test_probes_and_hooks(full):
    app = full.containers[0]
    assert app.liveness_probe.action == ActionPlan(kind="tcpSocket", port=8080)
    assert app.liveness_probe.period_seconds == 5
    assert app.readiness_probe.action.headers == (("X-Probe", "1"),)
    assert app.startup_probe.failure_threshold == 30 and app.startup_probe.timeout_seconds == 1
    assert app.post_start == ActionPlan(kind="exec", command=("touch", "/work/started"))
    assert app.pre_stop == ActionPlan(kind="sleep", seconds=2)


def test_secret_volume_items_and_downward_labels(full):
    volumes = {v.name: v for v in full.volumes}
    assert volumes["secret"].default_mode == 0o400
    assert [(f.path, f.content) for f in volumes["secret"].files] == [("nested/pw", b"secret")]
    info = {f.path: f for f in volumes["info"].files}
    assert info["labels"].content == b'app="full"\n'
    assert info["cpu"].content == b"1000"
    assert volumes["cache"].size_limit == 16 * 2**20


def test_probe_with_unknown_named_port_is_an_error():
    with pytest.raises(ManifestError, match='no port named "web"'):
        run(pod_yaml("- name: a\n  image: busybox\n  livenessProbe: {httpGet: {port: web}}\n"))


def test_probe_needs_exactly_one_handler():
    with pytest.raises(ManifestError, match=r"livenessProbe: needs one handler"):
        run(pod_yaml("- name: a\n  image: busybox\n  livenessProbe: {periodSeconds: 3}\n"))


def test_sctp_ports_are_warned_about_and_not_published():
    result = run(pod_yaml("- name: a\n  image: busybox\n  ports: [{containerPort: 9, protocol: SCTP}]\n"))
    assert result.pods[0].containers[0].ports == ()
    assert any("SCTP" in warning for warning in result.warnings)


@pytest.mark.parametrize("image, policy", [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
    ("localhost:5000/busybox", "Always"), ("localhost:5000/busybox:1", "IfNotPresent"),
    ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_default_pull_policy(image, policy):
    assert default_pull_policy(image) == policy


@pytest.mark.parametrize("value, millis", [("250m", 250), ("0.5", 500), ("2", 2000), (2, 2000), (0.1, 100),
                                           ("1.5m", 2), ("100u", 1)])
def test_cpu_quantities(value, millis):
    assert to_millis(value) == millis


@pytest.mark.parametrize("value, size", [("64Mi", 64 * 2**20), ("1G", 10**9), ("128974848", 128974848),
                                         ("129e6", 129000000), (1024, 1024), ("1Ki", 1024), ("0.5Ki", 512),
                                         ("1.5", 2)])
def test_memory_quantities(value, size):
    assert to_units(value) == size


@pytest.mark.parametrize("value", ["64MB", "abc", "", "1.2.3", True, None, "Mi"])
def test_bad_quantities(value):
    with pytest.raises(QuantityError):
        to_units(value)


def test_request_above_limit_is_an_error():
    with pytest.raises(ManifestError, match="requests.cpu: must be less than or equal to the cpu limit"):
        run(pod_yaml("- name: a\n  image: busybox\n  resources: {limits: {cpu: 1}, requests: {cpu: 2}}\n"))

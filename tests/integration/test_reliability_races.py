"""Reliability under races: commands started together that want one shared thing — a hostPort (in
one store and across two stores of the host), a pod name, a network name, a named volume. Exactly
one wins; every other one fails cleanly (exit 1, one error naming the thing, a hint) and leaves
nothing behind."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX, PodRunner
from tests.integration.test_pod_network import Net, free_port, http_get, httpd, run, sh, wait_for
from tests.support.cli import CLIResult, KubeplayRunner

pytestmark = pytest.mark.root
RACERS = 4
ROUNDS = 5


@pytest.fixture
def net(pods):
    """The test's own network (see test_pod_network.Net), checked to be left empty at the end."""
    network = Net(pods)
    try:
        yield network
    finally:
        network.remove()


def together(commands: list[tuple[KubeplayRunner, tuple[str, ...]]]) -> list[CLIResult]:
    """Start every command at once, then wait for all of them."""
    started = [runner.popen(*args) for runner, args in commands]
    results = []
    for process in started:
        try:
            stdout, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results.append(CLIResult(process.returncode, stdout, stderr))
    return results


def one_wins(results: list[CLIResult], mentions: tuple[str, ...]) -> CLIResult:
    winners = [result for result in results if result.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for loser in results:
        if loser.returncode != 0:
            loser.assert_fails_cleanly(exit_codes=(1,), mentions=mentions)
    return winners[0]


def dnat_rules_for(port: int) -> list[str]:
    return [line for line in run("nft", "list", "table", "inet", "kubeplay").splitlines()
            if f"dport {port} " in line and "dnat" in line]


def test_plays_at_once_of_one_host_port_publish_it_once(net):
    """Several rounds: before the check and the rule were one step, two of five rounds had two or
    more winners (the others lost to the one that happened to publish first)."""
    for round_number in range(ROUNDS):
        port = free_port()
        names = [net.pod_name(f"port{round_number}x{index}") for index in range(RACERS)]
        manifests = [net.pods.write(f"{name}.yaml", net.pods.pod(name, httpd(
            page=name, ports=[{"containerPort": 8080, "hostPort": port}]))) for name in names]
        results = together([(net.pods.kp, ("play", "--network", net.name, str(m))) for m in manifests])
        winner = one_wins(results, mentions=(f"hostPort {port}",))
        assert len(dnat_rules_for(port)) == 1
        listed = [entry["name"] for entry in json.loads(net.pods("pods", "--format", "json").stdout)]
        assert len(listed) == 1 and listed[0] in winner.stdout, listed  # the losers made nothing
        assert wait_for(lambda port=port: http_get(port), what="the winner's page") == f"{listed[0]}\n"
        assert net.pods("pod", "rm", "-f", "-t", "0", listed[0]).returncode == 0


def test_plays_at_once_in_two_stores_publish_a_host_port_once(net, rootfs_tar):
    """The check and the rule are one step under the host's lock: another store's play is no exception."""
    other = PodRunner(KubeplayRunner(Path(tempfile.mkdtemp(prefix="kp-", dir="/tmp"))))
    try:
        imported = other("image", "import", str(rootfs_tar), BUSYBOX, "--change", 'CMD ["sh"]')
        assert imported.returncode == 0, imported.stderr
        # both bridges up first: networks of two stores recorded at once could pick one bridge name
        _, first = net.play(net.pods.pod(net.pod_name("idle"), sh("idle", "sleep 3600")))
        assert first.returncode == 0, first.stderr
        other_net = Net(other)
        try:
            _, second = other_net.play(other.pod(other_net.pod_name("idle"), sh("idle", "sleep 3600")))
            assert second.returncode == 0, second.stderr
            port = free_port()
            pod = net.pod_name("web")  # the same pod name in both stores, too
            mine = net.pods.write("web.yaml", net.pods.pod(pod, httpd(ports=[{"containerPort": 8080, "hostPort": port}])))
            theirs = other.write("web.yaml", other.pod(pod, httpd(ports=[{"containerPort": 8080, "hostPort": port}])))
            results = together([(net.pods.kp, ("play", "--network", net.name, str(mine))),
                                (other.kp, ("play", "--network", other_net.name, str(theirs)))])
            one_wins(results, mentions=(f"hostPort {port}",))
            assert len(dnat_rules_for(port)) == 1
            assert wait_for(lambda: http_get(port), what="the winner's page") == "served-page\n"
        finally:
            other_net.remove()
    finally:
        other.kp.cleanup()


def test_plays_at_once_of_one_pod_name_make_it_once(net):
    pod = net.pod_name("same")
    manifest = net.pods.write("same.yaml", net.pods.pod(pod, sh("idle", "sleep 3600")))
    results = together([(net.pods.kp, ("play", "--network", net.name, str(manifest))) for _ in range(RACERS)])
    one_wins(results, mentions=(pod, "exists"))
    listed = json.loads(net.pods("pods", "--format", "json").stdout)
    assert [entry["name"] for entry in listed] == [pod]
    assert [name for name, _ in net.leases()] == [pod]  # one address, of the pod that runs


def test_network_creates_at_once_of_one_name_record_it_once(pods):
    name = f"race-{Path(pods.kp.base).name[-6:].lower()}"
    subnets = [f"10.90.{210 + index}.0/24" for index in range(RACERS)]
    results = together([(pods.kp, ("network", "create", name, "--subnet", subnet)) for subnet in subnets])
    one_wins(results, mentions=(name, "exists"))
    listed = json.loads(pods("network", "ls", "--format", "json").stdout)
    assert [entry["name"] for entry in listed].count(name) == 1


def test_volume_removals_at_once_remove_it_once(pods):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "racy"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}
    manifest = pods.write("claim.yaml", claim, pods.pod("user", sh("idle", "true"), restartPolicy="Never",
                                                        volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "racy"}}]))
    assert pods("play", "--network", "none", str(manifest)).returncode == 0
    assert pods("pod", "rm", "-f", "-t", "0", "user").returncode == 0
    results = together([(pods.kp, ("volume", "rm", "racy")) for _ in range(RACERS)])
    one_wins(results, mentions=("racy",))
    assert pods("volume", "ls", "-q").stdout.split() == []
    assert not (pods.kp.root / "volumes" / "racy").exists()


def test_a_volume_in_use_is_not_removed_by_a_removal_racing_its_play(pods):
    """`volume rm` refuses while a pod uses the volume, or goes first and the play makes it again:
    never a running pod whose volume's record or data is gone."""
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "shared"},
             "spec": {"resources": {"requests": {"storage": "1Mi"}}}}
    volume = [{"name": "d", "persistentVolumeClaim": {"claimName": "shared"}}]
    maker = pods.pod("maker", sh("idle", "true"), restartPolicy="Never", volumes=volume)
    assert pods("play", "--network", "none", str(pods.write("claim.yaml", claim, maker))).returncode == 0
    assert pods("pod", "rm", "-f", "-t", "0", "maker").returncode == 0
    manifest = pods.write("user.yaml", pods.pod("user", sh("idle", "touch /d/mark && sleep 3600",
                                                           volumeMounts=[{"name": "d", "mountPath": "/d"}]),
                                                volumes=volume))
    results = together([(pods.kp, ("play", "--network", "none", str(manifest))),
                        (pods.kp, ("volume", "rm", "shared"))])
    assert results[0].returncode == 0, results[0].stderr
    assert results[1].returncode in (0, 1), results[1].stderr
    assert pods("volume", "ls", "-q").stdout.split() == ["shared"]
    data = pods.kp.root / "volumes" / "shared" / "_data"
    pods.wait_for(lambda: (data / "mark").exists(), 20, "the pod to write into its volume")

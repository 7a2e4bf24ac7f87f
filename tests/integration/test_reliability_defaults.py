"""Safe defaults a user expects: a pids limit per container, a capped log that `logs` still reads,
the pod's fsGroup on its volumes, a claim's size kept by generate; and no fixed limits where a big
pod or a busy caller needs more (descriptors numbered past 1024, a pod of many containers)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import BUSYBOX
from tests.integration.test_reliability_faults import assert_nothing_left, idle

pytestmark = pytest.mark.root


def sh(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", script], **extra}


def bundle_config(pods, pod: str, container: str) -> dict:
    found = pods.container(pod, container)
    return json.loads((pods.kp.runroot / "containers" / found["id"] / "config.json").read_text())


def test_every_container_gets_a_pids_limit_by_default(pods):
    manifest = pods.write("pids.yaml", pods.pod("pids", idle("a")))
    assert pods("play", str(manifest)).returncode == 0
    assert bundle_config(pods, "pids", "a")["linux"]["resources"]["pids"] == {"limit": 2048}
    pid = pods.container("pids", "a")["pid"]
    line = next(entry for entry in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if ":pids:" in entry
                or entry.startswith("0::"))
    controller, path = line.split(":", 2)[1:]
    limit = Path("/sys/fs/cgroup", "pids" if controller == "pids" else "", path.lstrip("/"), "pids.max")
    assert limit.read_text().strip() == "2048"


def test_a_chatty_container_log_is_capped_and_logs_reads_what_is_kept(pods):
    # ~30 MB of output, ~60 MB of log records: without a cap the log holds all of it
    script = "yes 0123456789012345678901234567890123456789 | head -c 31457280; echo; echo last-line"
    manifest = pods.write("chatty.yaml", pods.pod("chatty", sh("talk", script), restartPolicy="Never"))
    assert pods("play", str(manifest)).returncode == 0
    pods.exited("chatty", "talk", timeout=60)
    log = pods.kp.root / "containers" / pods.container("chatty", "talk")["id"] / "ctr.log"
    assert log.stat().st_size <= (10 << 20) + (64 << 10)
    shown = pods.logs("chatty").splitlines()
    assert shown[-1] == "last-line"
    assert 0 < len(shown) <= (10 << 20) // 41 + 2


def test_fs_group_lets_a_non_root_container_read_its_secret_and_write_its_claim(pods):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "store"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}
    script = "cat /creds/token && echo && echo written > /store/out && mkdir /store/sub && ls -ldn /store/sub"
    pod = pods.pod("fsg", sh("app", script, volumeMounts=[{"name": "creds", "mountPath": "/creds"},
                                                          {"name": "store", "mountPath": "/store"}]),
                   restartPolicy="Never",
                   securityContext={"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000},
                   volumes=[{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                            {"name": "store", "persistentVolumeClaim": {"claimName": "store"}}])
    manifest = pods.write("fsg.yaml", secret, claim, pod)
    played = pods("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert pods.exited("fsg", "app")["exitCode"] == 0, pods.logs("fsg")
    out = pods.logs("fsg").splitlines()
    assert out[0] == "s3cret"
    assert out[1].split()[3] == "2000"  # a directory made in the claim belongs to the fsGroup (setgid)
    data = pods.kp.root / "volumes" / "store" / "_data"
    assert (data / "out").read_text() == "written\n" and (data / "out").stat().st_gid == 2000

    generated = pods("generate", "fsg")
    assert generated.returncode == 0, generated.stderr
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(generated.stdout)}
    assert documents["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert documents["Pod"]["spec"]["securityContext"]["fsGroup"] == 2000
    assert pods("down", "--volumes", str(manifest)).returncode == 0
    assert_nothing_left(pods)


def test_play_works_with_descriptors_numbered_past_1024(pods):
    """select() cannot watch a descriptor numbered 1024 or more; a caller holding many files open
    (or a pod of hundreds of containers) gets such numbers for every pipe it opens."""
    manifest = pods.write("many.yaml", pods.pod("many", *[idle(f"c{index}") for index in range(24)]))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def roomy() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))

    try:
        if hard < 2048:
            pytest.skip("the hard limit of open files is too low here")
        done = subprocess.run(pods.kp.argv("play", str(manifest)), capture_output=True, text=True, timeout=180,
                              env=pods.kp.env, cwd=pods.kp.base, pass_fds=held, preexec_fn=roomy,
                              stdin=subprocess.DEVNULL, check=False)
    finally:
        for fd in held:
            os.close(fd)
    assert done.returncode == 0, done.stderr
    running = [c for c in pods.inspect("many")["containers"] if c["role"] == "member" and c["state"] == "running"]
    assert len(running) == 24
    assert pods("down", str(manifest)).returncode == 0
    assert_nothing_left(pods)

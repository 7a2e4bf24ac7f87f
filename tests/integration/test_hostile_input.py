"""Reliability: hostile input at the command line. Names that would reach outside the store, inputs
past every bound (under a memory and a time limit), manifests with no pods, and input problems met
on the host (a missing hostPath, a full disk, a damaged database) each end in a clear error with the
right exit code, and nothing is made outside the store."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX
from tests.integration.test_volumes_cli import claim

pytestmark = pytest.mark.root

MEMORY_LIMIT = 150 * 2**20
# Each of these inputs ends in well under a second on an idle machine; the timeout is a guard
# against hangs (an unbounded input ran for minutes), not a measure of speed.
HANG_GUARD = 10


def pod(name: str, volumes: list | None = None, **container: object) -> dict:
    body = {"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["true"], **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, "containers": [body],
                     "volumes": volumes or []}}


def write(kp, name: str, text: str) -> Path:
    path = kp.base / name
    path.write_text(text)
    return path


def bounded(kp, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI under the memory limit and the hang guard."""
    argv = ["prlimit", f"--as={MEMORY_LIMIT}", "--", *kp.argv(*args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=HANG_GUARD, env=kp.env, cwd=kp.base,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def outside():
    """A directory outside every store that hostile names aim at; it must stay empty."""
    directory = Path(tempfile.mkdtemp(prefix="kp-outside-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


HOSTILE = ["../../../../../../{outside}/x", "{outside}/x", "a/b", ".", "..", "UPPER", "a" * 254, "", "a\nb"]


def hostile_cases():
    for template in HOSTILE:
        yield pytest.param("claim", template, id=f"claimName={template[:20]!r}")
        yield pytest.param("volume", template, id=f"volume={template[:20]!r}")
        yield pytest.param("pod", template, id=f"pod={template[:20]!r}")
        yield pytest.param("configmap", template, id=f"configMap={template[:20]!r}")
        yield pytest.param("namespace", template, id=f"namespace={template[:20]!r}")


@pytest.mark.parametrize("field, template", list(hostile_cases()))
def test_a_hostile_name_fails_with_its_field_and_makes_nothing_outside_the_store(pods, outside, field, template):
    name = template.format(outside=outside)
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "store"}},
               {"name": "cfg", "configMap": {"name": "settings"}}]
    document = pod("app", volumes, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"k": "v"}}
    named = {"claim": ("spec.volumes[0].persistentVolumeClaim.claimName", "app.yaml:"),
             "volume": ("spec.volumes[0].name", "app.yaml:"),
             "pod": ("metadata.name", "app.yaml:"),
             "configmap": ("spec.volumes[1].configMap.name", "app.yaml:"),
             "namespace": ("metadata.namespace", "app.yaml:")}
    if field == "claim":
        document["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = name
    elif field == "volume":
        document["spec"]["volumes"][0]["name"] = name
        document["spec"]["containers"][0]["volumeMounts"][0]["name"] = name
    elif field == "pod":
        document["metadata"]["name"] = name
    elif field == "configmap":
        document["spec"]["volumes"][1]["configMap"]["name"] = name
    else:
        document["metadata"]["namespace"] = name
    manifest = write(pods.kp, "app.yaml", "---\n".join(json.dumps(d) + "\n" for d in (claim("store"), config_map,
                                                                                        document)))
    result = pods("play", str(manifest))
    error = result.assert_fails_cleanly(exit_codes=(1,), mentions=(named[field][0],))
    assert named[field][1] in result.stderr, error
    # down reads only the objects' names and namespaces (what was stored decides): those it refuses
    # as play does; a hostile name deeper in a spec it never reads, so it finds nothing to remove
    result = pods("down", str(manifest))
    if field in ("pod", "namespace"):
        error = result.assert_fails_cleanly(exit_codes=(1,), mentions=(named[field][0],))
        assert named[field][1] in result.stderr, error
    else:
        assert result.returncode == 0, result.stderr
    assert list(outside.iterdir()) == []
    assert pods("pods", "-A", "--format", "json").stdout.strip() in ("", "[]")
    assert json.loads(pods("volume", "ls", "--format", "json").stdout) == []


@pytest.mark.parametrize("args", [("volume", "rm", "../x"), ("volume", "inspect", "/tmp/x"),
                                  ("network", "create", "../x"), ("pod", "stop", "../../x"),
                                  ("pod", "rm", "-f", "../../x")])
def test_hostile_names_on_the_command_line_reach_no_path(pods, outside, args):
    args = tuple(arg.replace("/tmp/x", f"{outside}/x") for arg in args)
    result = pods(*args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert list(outside.iterdir()) == []
    assert not (pods.kp.runroot.parent / "x.lock").exists() and not (pods.kp.base.parent / "x.lock").exists()


def nested(depth: int) -> str:
    return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: deep\n  labels: " + "[" * depth + "]" * depth + "\n"


def alias_bomb() -> str:
    lines = ["        a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"        a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: bomb}}
spec:
  selector: {{matchLabels: {{a: b}}}}
  template:
    metadata: {{labels: {{a: b}}}}
    spec:
      containers:
      - name: c
        image: {BUSYBOX}
        x-bomb:
""" + "\n".join(lines) + "\n"


def deployment(replicas: int, annotations: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
{annotations}spec:
  replicas: {replicas}
  selector: {{matchLabels: {{a: b}}}}
  template:
    metadata: {{labels: {{a: b}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: c, image: "{BUSYBOX}", imagePullPolicy: Never, command: [sleep, "60"]}}]
"""


def many_env(count: int) -> str:
    entries = "".join(f"    - {{name: V{i}, value: x}}\n" for i in range(count))
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: envs}}\nspec:\n  containers:\n  - name: c\n" \
           f"    image: {BUSYBOX}\n    env:\n{entries}"


BOUNDED = {
    "alias-bomb": (alias_bomb, r"bomb.yaml:\d+: aliases expand the document"),
    "nested-10000": (lambda: nested(10_000), r"bomb.yaml:\d+: nested more than 100 levels deep"),
    "replicas-1e9": (lambda: deployment(1_000_000_000), r"bomb.yaml:6: spec.replicas: 1000000000 pods"),
    "env-600000": (lambda: many_env(600_000), r"bomb.yaml:1: the document is larger than 3 MiB"),
    "annotations-1MiB": (lambda: deployment(1, f"  annotations:\n    big: \"{'y' * 2**20}\"\n"),
                         r"bomb.yaml:5: metadata.annotations: \d+ bytes of annotations"),
    "annotations-40MiB": (lambda: deployment(1, f"  annotations:\n    big: \"{'y' * 40 * 2**20}\"\n"),
                          r"bomb.yaml:1: the document is larger than 3 MiB"),
}


READ_ONLY_BY_PLAY = {"replicas-1e9", "annotations-1MiB"}  # bounds met in translation, which down skips


@pytest.mark.parametrize("case", list(BOUNDED))
def test_each_unbounded_input_ends_under_150_mb_with_file_and_line(kp, case):
    import re

    make, message = BOUNDED[case]
    manifest = write(kp, "bomb.yaml", make())
    for command in ("play", "down"):
        done = bounded(kp, command, str(manifest))
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
        if command == "down" and case in READ_ONLY_BY_PLAY:
            # down reads only names, so it never meets these; it still ends, bounded, finding nothing
            assert done.returncode == 0, done.stderr[-2000:]
            continue
        assert done.returncode == 1, f"{command}: exit {done.returncode}: {done.stderr[-2000:]}"
        assert re.search(message, done.stderr), done.stderr[-2000:]


@pytest.mark.parametrize("text, said", [
    ("", "no pods in these manifests"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n", "no pods in these manifests"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n", "no pods in these manifests"),
    ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n", "kubeplay does not support kind Widget"),
])
def test_manifests_without_pods_play_and_say_so(kp, text, said):
    manifest = write(kp, "app.yaml", text)
    played = kp("play", str(manifest))
    assert played.returncode == 0, played.stderr
    assert said in played.stderr and "internal error" not in played.stderr
    assert kp("down", str(manifest)).returncode == 0


def test_unknown_kinds_are_an_error_under_strict(kp):
    manifest = write(kp, "app.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    kp("play", "--strict", str(manifest)).assert_fails_cleanly(exit_codes=(1,), mentions=("app.yaml:1", "Widget"))


def test_replicas_zero_plays_no_pods_and_down_takes_the_pods_of_the_same_deployment(pods):
    three = write(pods.kp, "web.yaml", deployment(2))
    assert pods("play", str(three)).returncode == 0
    zero = write(pods.kp, "web0.yaml", deployment(0))
    played = pods("play", str(zero))  # the Deployment exists: a second set of pods is refused
    assert played.returncode == 1 and "already exists" in played.stderr and "apply" in played.stderr
    down = pods("down", str(zero))  # the workload is the same: its pods go
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("deleted") == 2
    played = pods("play", str(zero))
    assert played.returncode == 0, played.stderr
    assert "deployment/web has no pods (replicas: 0)" in played.stderr
    assert "web" in pods("deployments").stdout  # kept, so that it can be scaled
    again = pods("down", str(zero))
    assert again.returncode == 0 and "no pods of these manifests are running" in again.stderr
    assert "web" not in pods("deployments").stdout


def test_negative_replicas_is_an_input_error(kp):
    manifest = write(kp, "web.yaml", deployment(-1))
    kp("play", str(manifest)).assert_fails_cleanly(exit_codes=(1,), mentions=("web.yaml:6", "spec.replicas"))


def test_a_missing_hostpath_without_type_is_an_input_error_naming_the_volume(pods, outside):
    missing = outside / "nothing-here"
    volumes = [{"name": "host", "hostPath": {"path": str(missing)}}]
    manifest = write(pods.kp, "app.yaml", json.dumps(pod("app", volumes)))
    error = pods("play", str(manifest)).assert_fails_cleanly(exit_codes=(1,), mentions=("app.yaml:1", "host",
                                                                                         str(missing)))
    assert "does not exist" in error
    assert not missing.exists()


def test_an_env_value_past_execve_is_refused_at_play(pods):
    manifest = write(pods.kp, "app.yaml", json.dumps(pod("app", env=[{"name": "BIG", "value": "x" * 2**20}])))
    pods("play", str(manifest)).assert_fails_cleanly(exit_codes=(1,), mentions=("app.yaml", "env[0]", "BIG"))
    assert pods("pods", "-A", "--format", "json").stdout.strip() in ("", "[]")


def test_a_full_disk_on_import_names_the_path_and_the_cause(kp, rootfs_tar):
    big = kp.base / "big.tar"
    subprocess.run(["tar", "-cf", str(big), "-C", str(kp.base), "--files-from", "/dev/null"], check=True)
    with open(big, "wb") as file:  # a tar too big for the store: random, so nothing compresses it
        import os

        file.write(os.urandom(8 * 2**20))
    kp.root.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(kp.root)], check=True)
    try:
        result = kp("image", "import", str(big), "localhost/full:latest")
        error = result.assert_fails_cleanly(exit_codes=(125,), mentions=("no space left",))
        assert str(kp.root) in error
    finally:
        subprocess.run(["umount", "-l", str(kp.root)], check=False)


def test_a_corrupted_database_says_so_and_system_reset_recovers(kp):
    kp.root.mkdir(parents=True)
    database = kp.root / "kubeplay.db"
    database.write_bytes(b"not a database, whatever it was" * 300)
    error = kp("volume", "ls").assert_fails_cleanly(exit_codes=(125,), mentions=("corrupted", str(database)))
    assert "check permissions and free space" not in error
    assert "system reset" in kp("volume", "ls").stderr
    reset = kp("system", "reset", "--force")
    assert reset.returncode == 0, reset.stderr
    assert kp("volume", "ls").returncode == 0

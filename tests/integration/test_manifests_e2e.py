"""The manifest surface on real pods: workloads, env, every volume type, warnings and --strict.

What a container sees is read from inside it (its own `env`, `stat`, `df`, files), never from the plan.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.integration.conftest import BUSYBOX

pytestmark = pytest.mark.root

SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
SLEEP = "trap 'exit 0' TERM; sleep 60 & wait"  # a long-running main process that stops at once on TERM


def sh(name: str, script: str, **extra: object) -> dict:
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", script], **extra}


def listed(pods) -> dict[str, dict]:
    result = pods("pods", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def run_once(pods, manifest: Path, pod: str, container: str = "main") -> str:
    """Play, wait for the container to finish with 0, return its output."""
    played = pods("play", str(manifest))
    assert played.returncode == 0, played.stderr
    finished = pods.exited(pod, container)
    output = pods.logs(pod, container)
    assert finished["exitCode"] == 0, output
    return output


def test_deployment_replicas_make_named_labelled_running_pods(pods):
    labels = {"app": "web", "tier": "front"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": labels}, "spec": {
                               "containers": [sh("main", SLEEP, volumeMounts=[
                                   {"name": "info", "mountPath": "/info"}])],
                               "volumes": [{"name": "info", "downwardAPI": {"items": [
                                   {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}}}}
    manifest = pods.write("web.yaml", deployment)
    played = pods("play", str(manifest))
    assert played.returncode == 0, played.stderr
    names = sorted(listed(pods))
    assert len(names) == 3
    hashes = set()
    for name in names:
        match = re.fullmatch(rf"web-({SAFE}+)-{SAFE}{{5}}", name)
        assert match, name
        hashes.add(match.group(1))
    assert len(hashes) == 1  # one template, one hash
    pods.wait_for(lambda: all(p["status"] == "Running" for p in listed(pods).values()), what="3 running pods")
    shown = pods("exec", names[0], "--", "cat", "/info/labels")
    assert shown.returncode == 0, shown.stderr
    seen = dict(line.split("=", 1) for line in shown.stdout.splitlines())
    assert seen["app"] == '"web"' and seen["tier"] == '"front"'
    assert seen["pod-template-hash"] == f'"{hashes.pop()}"'
    down = pods("down", str(manifest))
    assert down.returncode == 0 and listed(pods) == {}


def test_env_sources_as_the_container_sees_them(pods):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                 "data": {"mode": "fast", "level": "3"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "data": {"token": base64.b64encode(b"tok-123").decode()}}
    main = sh("main", "env | sort; echo args: \"$@\"", args=["$(MODE)", "$$(MODE)"],
              resources={"limits": {"memory": "64Mi", "cpu": "500m"}},
              env=[{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                   {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                   {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "nope",
                                                                         "optional": True}}},
                   {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                   {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                   {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                   {"name": "HOST_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}},
                   {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                         "divisor": "1Mi"}}},
                   {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                        "divisor": "1m"}}},
                   {"name": "GREETING", "value": "mode=$(MODE) pod=$(POD_NAME) literal=$$(MODE)"}],
              envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}])
    main["command"] = ["/bin/sh", "-c", main["command"][2], "sh"]
    manifest = pods.write("env.yaml", configmap, secret, pods.pod("envpod", main, restartPolicy="Never"))
    output = run_once(pods, manifest, "envpod")
    env = dict(line.split("=", 1) for line in output.splitlines() if "=" in line and not line.startswith("args"))
    assert env["MODE"] == "fast" and env["TOKEN"] == "tok-123"
    assert "MISSING" not in env or env["MISSING"] == ""
    assert env["POD_NAME"] == "envpod"
    assert env["POD_IP"] == pods.inspect("envpod")["ip"] and env["POD_IP"]
    assert env["HOST_IP"] and env["HOST_IPS"] == env["HOST_IP"]  # one address family: the list has one entry
    assert env["MEM_MI"] == "64" and env["CPU_M"] == "500"
    assert env["CFG_mode"] == "fast" and env["CFG_level"] == "3"
    assert env["GREETING"] == "mode=fast pod=envpod literal=$(MODE)"
    assert "args: fast $(MODE)" in output


def test_configmap_secret_projected_volumes_with_items_and_modes(pods):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"},
                 "data": {"app.ini": "[main]\nx=1\n", "other": "o"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys"},
              "stringData": {"key.pem": "PEM", "unused": "u"}}
    script = ("cd /vol; for f in conf/nested/dir/app.ini conf/other secret/key.pem proj/c/app.ini proj/s/key.pem "
              "proj/labels; do echo \"$f $(stat -L -c %a $f) $(cat $f | head -1)\"; done; "
              "echo $(ls conf/nested/dir) $(ls secret); touch conf/new 2>/dev/null || echo ro")
    main = sh("main", script, volumeMounts=[{"name": "conf", "mountPath": "/vol/conf", "readOnly": True},
                                            {"name": "secret", "mountPath": "/vol/secret"},
                                            {"name": "proj", "mountPath": "/vol/proj"}])
    pod = pods.pod("files", main, restartPolicy="Never", volumes=[
        {"name": "conf", "configMap": {"name": "conf", "defaultMode": 0o640, "items": [
            {"key": "app.ini", "path": "nested/dir/app.ini", "mode": 0o600}, {"key": "other", "path": "other"}]}},
        {"name": "secret", "secret": {"secretName": "keys", "defaultMode": 0o400,
                                      "items": [{"key": "key.pem", "path": "key.pem"}]}},
        {"name": "proj", "projected": {"defaultMode": 0o444, "sources": [
            {"configMap": {"name": "conf", "items": [{"key": "app.ini", "path": "c/app.ini"}]}},
            {"secret": {"name": "keys", "items": [{"key": "key.pem", "path": "s/key.pem", "mode": 0o404}]}},
            {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}},
    ])
    pod["metadata"]["labels"] = {"role": "files"}
    output = run_once(pods, pods.write("files.yaml", configmap, secret, pod), "files")
    lines = output.splitlines()
    assert lines[:6] == ["conf/nested/dir/app.ini 600 [main]", "conf/other 640 o", "secret/key.pem 400 PEM",
                         "proj/c/app.ini 444 [main]", "proj/s/key.pem 404 PEM", 'proj/labels 444 role="files"']
    assert lines[6].split() == ["app.ini", "key.pem"]  # only the listed items
    assert lines[7] == "ro"


def test_empty_dir_in_memory_is_a_sized_tmpfs_and_sub_path_mounts(pods):
    main = sh("main", "df -k /scratch | tail -1; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; "
                      "echo kept > /shared/sub/dir/file; cat /only/file", volumeMounts=[
                          {"name": "scratch", "mountPath": "/scratch"},
                          {"name": "shared", "mountPath": "/shared"},
                          {"name": "shared", "mountPath": "/only", "subPath": "sub/dir"}])
    pod = pods.pod("mem", main, restartPolicy="Never", initContainers=[
        sh("prep", "mkdir -p /shared/sub/dir", volumeMounts=[{"name": "shared", "mountPath": "/shared"}])],
        volumes=[{"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
                 {"name": "shared", "emptyDir": {}}])
    lines = run_once(pods, pods.write("mem.yaml", pod), "mem").splitlines()
    assert lines[0].split()[1] == str(8 * 1024)  # 1K-blocks of the tmpfs
    assert lines[1] == "tmpfs"
    assert lines[2] == "kept"


def test_escaping_sub_path_is_refused(pods):
    main = sh("main", "true", volumeMounts=[{"name": "v", "mountPath": "/v", "subPath": "../../etc"}])
    manifest = pods.write("escape.yaml", pods.pod("escape", main, volumes=[{"name": "v", "emptyDir": {}}]))
    refused = pods("play", str(manifest))
    error = refused.assert_fails_cleanly((1,), mentions=("subPath",))
    assert "../../etc" in error
    assert listed(pods) == {}


def host_path_pod(pods, name: str, path: str, kind: str, script: str = "true") -> dict:
    main = sh("main", script, volumeMounts=[{"name": "host", "mountPath": "/host"}])
    return pods.pod(name, main, restartPolicy="Never", volumes=[{"name": "host", "hostPath": {"path": path,
                                                                                               "type": kind}}])


def test_host_path_types_are_checked(pods, tmp_path):
    base = pods.manifests
    missing = base / "absent-dir"
    refused = pods("play", str(pods.write("missing.yaml", host_path_pod(pods, "missing", str(missing), "Directory"))))
    refused.assert_fails_cleanly((1,), mentions=('volume "host"', str(missing)))
    assert not missing.exists() and listed(pods) == {}

    (base / "a-file").write_text("file-content")
    wrong = pods("play", str(pods.write("wrong.yaml", host_path_pod(pods, "wrong", str(base / "a-file"),
                                                                     "Directory"))))
    wrong.assert_fails_cleanly((1,), mentions=("not a directory",))

    made = base / "made" / "deep"
    output = run_once(pods, pods.write("create.yaml", host_path_pod(pods, "create", str(made), "DirectoryOrCreate",
                                                                    "echo from-pod > /host/out")), "create")
    assert output == "" and (made / "out").read_text() == "from-pod\n"

    # a relative path is taken from the manifest's directory, not from where kubeplay runs
    (base / "rel").mkdir()
    (base / "rel" / "data").write_text("relative-data\n")
    output = run_once(pods, pods.write("relative.yaml", host_path_pod(pods, "relative", "rel", "Directory",
                                                                      "cat /host/data")), "relative")
    assert output == "relative-data\n"

    file_pod = pods.write("file.yaml", host_path_pod(pods, "filepod", "created.txt", "FileOrCreate",
                                                     "echo written > /host"))
    assert run_once(pods, file_pod, "filepod") == ""
    assert (base / "created.txt").read_text() == "written\n"

    sock = pods("play", str(pods.write("sock.yaml", host_path_pod(pods, "sock", str(base / "a-file"), "Socket"))))
    sock.assert_fails_cleanly((1,), mentions=("socket",))
    char = run_once(pods, pods.write("char.yaml", host_path_pod(pods, "char", "/dev/null", "CharDevice",
                                                                "echo ok > /host && echo char-ok")), "char")
    assert char.strip() == "char-ok"
    block = pods("play", str(pods.write("block.yaml", host_path_pod(pods, "block", "/dev/null", "BlockDevice"))))
    block.assert_fails_cleanly((1,), mentions=("block device",))


def test_unknown_field_warns_with_position_and_strict_refuses(pods):
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: typo\nspec:\n  restartPolicy: Never\n  containers:\n"
            f"  - name: main\n    image: {BUSYBOX}\n    imagePullPolicy: Never\n    command: [/bin/true]\n"
            "    imagePulPolicy: Never\n"
            "---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
    manifest = pods.manifests / "typo.yaml"
    manifest.write_text(text)
    strict = pods("play", "--strict", str(manifest))
    assert strict.returncode == 1, strict.stderr
    assert "typo.yaml:12" in strict.stderr and "imagePulPolicy" in strict.stderr
    assert listed(pods) == {}

    played = pods("play", str(manifest))
    assert played.returncode == 0, played.stderr
    warnings = [line for line in played.stderr.splitlines() if line.startswith("warning:")]
    typo = [line for line in warnings if "imagePulPolicy" in line]
    assert typo and "typo.yaml:12" in typo[0] and "did you mean" in typo[0] and "imagePullPolicy" in typo[0]
    assert [line for line in warnings if "Widget" in line]
    assert list(listed(pods)) == ["typo"]

"""Plans through the store and pydantic: a played pod's plan is stored, read back and generated
as the plan itself is; a damaged plan row is a clear error naming the pod, and the way out works."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from kubeplay.config import Settings
from kubeplay.generate import GenerateOptions, generate
from kubeplay.model.record import ContainerRole
from kubeplay.system.reset import reset
from kubeplay.store.db import open_database
from kubeplay.store.plans import read_pod_plan
from kubeplay.store.pods import PodStore
from kubeplay.translate.loader import parse
from kubeplay.translate.run import translate

REPO = Path(__file__).resolve().parents[2]

MANIFEST = """\
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {token: +/+/AAEC}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: web
    image: docker.io/library/busybox:latest
    command: [sh, -c, "httpd -f -p 8080"]
    ports: [{containerPort: 8080, hostPort: 18080}]
    env: [{name: MODE, value: serve}]
    readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
    volumeMounts: [{name: creds, mountPath: /creds, readOnly: true}]
  - name: sidecar
    image: docker.io/library/busybox:latest
    command: [sleep, "3600"]
    resources: {limits: {cpu: 250m, memory: 64Mi}}
  volumes:
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
"""


def stored(tmp_path: Path):
    """The manifest's pod stored as play stores it: its plan, and each container's."""
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    settings.ensure_dirs()
    [plan] = translate(parse(MANIFEST, "web.yaml")).pods
    store = PodStore(open_database(settings.root))
    store.add_pod("0" * 32, plan)
    store.add_container("1" * 64, plan.name, "", ContainerRole.INFRA, 0, None, None)
    for position, container in enumerate(plan.containers):
        store.add_container(f"{position + 2}" * 64, plan.name, container.name, ContainerRole.MEMBER, position,
                            None, container)
    return settings, store, plan


def test_a_stored_plan_reads_back_and_generates_as_the_played_one(tmp_path):
    settings, store, plan = stored(tmp_path)
    back = read_pod_plan(store.db, "web")
    assert back == plan
    assert back.volumes[0].files[0].content == b"\xfb\xff\xbf\x00\x01\x02"
    record = store.get_pod("web")
    assert record.plan == plan
    assert [c.plan for c in record.containers] == [None, *plan.containers]
    options = GenerateOptions(include_secrets=True)
    assert generate([back], options).yaml == generate([plan], options).yaml


def kubeplay(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubeplay", "--root", str(settings.root), "--runroot",
                           str(settings.runroot), *args], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_a_damaged_plan_row_names_the_pod_and_the_way_out(tmp_path):
    settings, store, _ = stored(tmp_path)
    store.db.close()
    with sqlite3.connect(open_database(settings.root).path) as conn:
        conn.execute("""UPDATE pods SET plan='{"name": "web", "containers": [{"name": "web", "image": 7}]}'""")
    done = kubeplay(settings, "generate", "web")
    assert done.returncode == 125
    assert 'the stored plan of pod "web" cannot be read: containers.0.image:' in done.stderr
    assert "system reset" in done.stderr and "Traceback" not in done.stderr
    listed = kubeplay(settings, "pods")  # the listing reads two keys, and still shows the pod
    assert listed.returncode == 0 and "web" in listed.stdout
    report = reset(settings)
    assert any('pod "web"' in problem for problem in report.problems)
    assert not settings.root.exists()


def test_a_plan_row_that_is_no_json_is_the_same_error(tmp_path):
    settings, store, _ = stored(tmp_path)
    store.db.close()
    with sqlite3.connect(open_database(settings.root).path) as conn:
        conn.execute("UPDATE containers SET plan='{not json' WHERE name='sidecar'")
    done = kubeplay(settings, "pod", "inspect", "web")
    assert done.returncode == 125
    assert 'the stored plan of pod "web" cannot be read' in done.stderr and "Traceback" not in done.stderr


def test_a_plan_row_written_by_the_previous_version_opens(tmp_path):
    from tests.unit.test_serial import PREVIOUS_FORMAT

    settings, store, _ = stored(tmp_path)
    with sqlite3.connect(store.db.path) as conn:
        conn.execute("UPDATE pods SET plan=?", (PREVIOUS_FORMAT,))
    record = store.get_pod("web")
    assert record.plan.source.file == "/srv/web.yaml"
    assert record.plan.volumes[0].files[0].content == b"\xfb\xff\xfe"
    assert "kind: Pod" in kubeplay(settings, "generate", "web").stdout

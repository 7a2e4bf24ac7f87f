"""Translation in a forked child: the same answer as in-process, and the in-process path whenever
the child cannot give one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace

from kubeplay.cli.aside import Translated, begin
from kubeplay.cli.manifests import begin_translation, translate_files

# run in a fresh interpreter: the test session may have threads of its own, and with another thread
# alive no child is forked
CHILD_ANSWERS = """
import os
from kubeplay.cli.aside import Translated, begin
from kubeplay.model.plan import ClaimPlan

parent = os.getpid()

def translate():
    if os.getpid() == parent:
        return Translated(pods=["here"], claims=[], warnings=[])
    if {fail}:
        raise RuntimeError("only in the child")
    return Translated(pods=[os.getpid()], claims=[ClaimPlan(name="data", labels={{"a": "b"}})], warnings=["w"])

result = begin(translate, may_fork=True)()
print(result.pods[0] == "here", result.pods[0] != parent, result.claims == [ClaimPlan(name="data", labels={{"a": "b"}})],
      result.warnings)
"""


def _run(fail: bool) -> str:
    done = subprocess.run([sys.executable, "-c", CHILD_ANSWERS.format(fail=fail)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_childs_answer_comes_back_whole():
    assert _run(fail=False) == "False True True ['w']"


def test_a_failing_child_leaves_the_answer_to_this_process():
    assert _run(fail=True) == "True True False []"


def test_no_fork_when_not_allowed_or_another_thread_runs():
    def translate() -> Translated:
        return Translated(pods=[os.getpid()], claims=[], warnings=[])

    assert begin(translate, may_fork=False) is translate
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert begin(translate, may_fork=True) is translate
    finally:
        stop.set()
        other.join()


def test_manifest_files_translate_the_same_either_way(tmp_path):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: aside}\nspec:\n"
        "  containers:\n  - {name: c, image: localhost/x:1, command: [sleep, '1'], unknownField: 1}\n"
        "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n")
    here = translate_files((str(manifest),), False, "")
    aside = begin_translation((str(manifest),), False, "")()
    def without_uid(pods):  # each translation gives a pod a fresh metadata.uid
        return [replace(pod, uid="") for pod in pods]

    assert without_uid(aside.pods) == without_uid(here.pods)
    assert aside.claims == here.claims and aside.warnings == here.warnings
    assert here.warnings  # the unknown field is warned about, once, by whoever prints

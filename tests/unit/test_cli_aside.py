"""Translation in a forked child: the same answer as in-process, and the in-process path whenever
the child cannot give one."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

from kubeplay.cli.aside import Translated, begin
from kubeplay.cli.manifests import begin_translation, translate_files
from kubeplay.model.plan import ClaimPlan


def test_the_childs_answer_comes_back_whole():
    parent = os.getpid()

    def translate() -> Translated:
        # runs in the child: its pid shows where the answer was made
        return Translated(pods=[os.getpid()], claims=[ClaimPlan(name="data", labels={"a": "b"})], warnings=["w"])

    result = begin(translate, may_fork=True)()
    assert result.pods[0] != parent
    assert result.claims == [ClaimPlan(name="data", labels={"a": "b"})] and result.warnings == ["w"]


def test_a_failing_child_leaves_the_answer_to_this_process():
    parent = os.getpid()

    def translate() -> Translated:
        if os.getpid() != parent:
            raise RuntimeError("only in the child")
        return Translated(pods=["here"], claims=[], warnings=[])

    assert begin(translate, may_fork=True)().pods == ["here"]


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

"""Naming the fields translation did not read, so nothing in a manifest is dropped silently.

After translation every document is walked along the schema: a valid Kubernetes field that no
translation step read is reported as "kubeplay ignores <path>: <why>" (an error under strict).
Unknown fields were already reported by validation; output-only fields (status, server-set
metadata) and fields left at their Kubernetes default are not worth a word.
"""

from __future__ import annotations

from typing import Any

from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import Node, line_of
from kubeplay.model.kubeschema import is_model, kinds, type_schema

ONE_NODE = "pods run on one node"
NO_SCHEDULER = "there is no scheduler"
NO_API_SERVER = "there is no API server"
NO_ROLLOUT = "a re-play replaces the pods at once"

REASONS = {
    "affinity": ONE_NODE, "nodeSelector": ONE_NODE, "tolerations": ONE_NODE,
    "topologySpreadConstraints": ONE_NODE, "priorityClassName": NO_SCHEDULER, "priority": NO_SCHEDULER,
    "preemptionPolicy": NO_SCHEDULER, "schedulerName": NO_SCHEDULER, "schedulingGates": NO_SCHEDULER,
    "readinessGates": NO_API_SERVER, "automountServiceAccountToken": f"{NO_API_SERVER} to issue tokens",
    "imagePullSecrets": "registry credentials come from `kubeplay login` (auth.json)",
    "runtimeClassName": "the runtime is chosen with --runtime",
    "strategy": NO_ROLLOUT, "minReadySeconds": NO_ROLLOUT, "progressDeadlineSeconds": NO_ROLLOUT,
    "revisionHistoryLimit": NO_ROLLOUT, "paused": NO_ROLLOUT,
    "terminationMessagePath": "termination messages are not collected",
    "terminationMessagePolicy": "termination messages are not collected",
    "seLinuxOptions": "SELinux labels are not applied", "appArmorProfile": "AppArmor profiles are not applied",
    "windowsOptions": "containers run on Linux", "os": "containers run on Linux",
    "generateName": "pods need metadata.name",
}

# Kubernetes defaults that `kubectl get -o yaml` writes out: saying nothing about them is honest.
DEFAULTS: dict[str, Any] = {
    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    "schedulerName": "default-scheduler", "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
    "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, "minReadySeconds": 0, "paused": False,
    "automountServiceAccountToken": False, "enableServiceLinks": True,
}

# Output-only or server-set: meaningful to an API server, not to a manifest being played.
SILENT = {"status", "creationTimestamp", "resourceVersion", "uid", "generation", "selfLink",
          "managedFields", "ownerReferences", "finalizers", "deletionTimestamp",
          "deletionGracePeriodSeconds"}


def report_unconsumed(documents: list[Document], issues: Issues) -> None:
    known = kinds()
    for doc in documents:
        doc.body.read.update({"apiVersion", "kind"})  # the loader and dispatch used them
        metadata = dict.get(doc.body, "metadata")
        if isinstance(metadata, Node):
            # an object's own labels and annotations belong to it even when no pod inherits them
            metadata.read.update({"labels", "annotations", "name", "namespace"})
        _walk(doc, doc.body, known[doc.kind].type, "", issues)


def _walk(doc: Document, value: Any, type_name: str, path: str, issues: Issues) -> None:
    if type_name.startswith("[]"):
        type_name = type_name[2:]
        if isinstance(value, list):
            for index, item in enumerate(value):
                _walk(doc, item, type_name, f"{path}[{index}]", issues)
        return
    if not is_model(type_name) or not isinstance(value, Node):
        return
    fields = type_schema(type_name).fields
    for key, item in dict.items(value):
        if key not in fields:
            continue  # validation already named it
        field_path = f"{path}.{key}" if path else str(key)
        if key in value.read:
            _walk(doc, item, fields[key], field_path, issues)
        elif not _unremarkable(key, item):
            reason = REASONS.get(key, "kubeplay does not implement it")
            issues.lenient(doc.file, line_of(value, key), "", f"kubeplay ignores {field_path}: {reason}")


def _unremarkable(key: str, value: Any) -> bool:
    if key in SILENT or value is None or value == {} or value == [] or value == "":
        return True
    return key in DEFAULTS and DEFAULTS[key] == value and type(DEFAULTS[key]) is type(value)

"""Checks the schema cannot express: name formats, label syntax, unique names, port ranges,
mounts that name a defined volume. Run on a document only after its types are known to be right.
"""

from __future__ import annotations

import re
from typing import Any

from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import line_of

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

WORKLOADS = {"Deployment", "ReplicaSet", "DaemonSet", "Job"}


def dns_label_problem(name: str) -> str:
    if len(name) > 63:
        return f'"{name}" is longer than 63 characters'
    if not DNS1123_LABEL.fullmatch(name):
        return (f'"{name}" is not a valid DNS-1123 label (lower case letters, digits and "-", '
                "starting and ending with a letter or digit)")
    return ""


def dns_subdomain_problem(name: str) -> str:
    if len(name) > 253:
        return f'"{name}" is longer than 253 characters'
    if not DNS1123_SUBDOMAIN.fullmatch(name):
        return (f'"{name}" is not a valid DNS-1123 subdomain (lower case letters, digits, "-" and ".", '
                "starting and ending with a letter or digit)")
    return ""


def port_name_problem(name: str) -> str:
    if len(name) > 15 or not PORT_NAME.fullmatch(name) or "--" in name or not re.search("[a-z]", name):
        return (f'"{name}" is not a valid port name (at most 15 lower case letters, digits and "-", '
                'with at least one letter and no "--")')
    return ""


def label_problem(key: str, value: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix and dns_subdomain_problem(prefix):
        return f'label key "{key}" has an invalid prefix'
    if len(name) > 63 or not LABEL_NAME.fullmatch(name):
        return f'label key "{key}" is not valid (at most 63 letters, digits, "-", "_" and ".")'
    if len(value) > 63 or not LABEL_VALUE.fullmatch(value):
        return f'label value "{value}" is not valid (at most 63 letters, digits, "-", "_" and ".")'
    return ""


def check_document(doc: Document, issues: Issues) -> None:
    body = doc.body
    metadata = dict.get(body, "metadata") or {}
    name = dict.get(metadata, "name")
    if not name:
        issues.error(doc.file, line_of(body, "metadata") or doc.line, "metadata.name",
                     f"required field is missing ({doc.where})")
    else:
        check = dns_label_problem if doc.kind == "Service" else dns_subdomain_problem
        if doc.kind == "Service" and not DNS1035_LABEL.fullmatch(name):
            issues.error(doc.file, line_of(metadata, "name"), "metadata.name",
                         f'"{name}" is not a valid Service name (a DNS-1035 label: starts with a letter)')
        elif problem := check(name):
            issues.error(doc.file, line_of(metadata, "name"), "metadata.name", problem)
    _check_labels(metadata, "metadata", doc, issues)
    spec = dict.get(body, "spec") or {}
    if doc.kind == "Pod":
        _check_pod_spec(spec, "spec", doc, issues)
    elif doc.kind in WORKLOADS:
        template = dict.get(spec, "template")
        if template is None:
            issues.error(doc.file, line_of(body, "spec") or doc.line, "spec.template", "required field is missing")
            return
        _check_labels(dict.get(template, "metadata") or {}, "spec.template.metadata", doc, issues)
        _check_pod_spec(dict.get(template, "spec") or {}, "spec.template.spec", doc, issues)


def _check_labels(metadata: Any, path: str, doc: Document, issues: Issues) -> None:
    labels = dict.get(metadata, "labels") or {}
    for key, value in dict.items(labels):
        if problem := label_problem(str(key), str(value)):
            issues.error(doc.file, line_of(labels, key), f"{path}.labels", problem)


def _check_pod_spec(spec: Any, path: str, doc: Document, issues: Issues) -> None:
    if not dict.get(spec, "containers"):
        issues.error(doc.file, line_of(spec, "containers") or doc.line, f"{path}.containers",
                     "at least one container is required")
    volumes = dict.get(spec, "volumes") or []
    volume_names = _check_unique_names(volumes, f"{path}.volumes", dns_label_problem, doc, issues)
    seen: set[str] = set()
    for field in ("initContainers", "containers"):
        containers = dict.get(spec, field) or []
        for index, container in enumerate(containers):
            item_path = f"{path}.{field}[{index}]"
            item_line = line_of(containers, index)
            name = dict.get(container, "name") or ""
            if problem := dns_label_problem(name):
                issues.error(doc.file, line_of(container, "name") or item_line, f"{item_path}.name", problem)
            elif name in seen:
                issues.error(doc.file, line_of(container, "name") or item_line, f"{item_path}.name",
                             f'container name "{name}" is used twice in this pod')
            seen.add(name)
            _check_ports(container, item_path, doc, issues)
            _check_mounts(container, item_path, volume_names, doc, issues)


def _check_unique_names(items: list, path: str, check: Any, doc: Document, issues: Issues) -> set[str]:
    names: set[str] = set()
    for index, item in enumerate(items):
        name = dict.get(item, "name") or ""
        line = line_of(item, "name") or line_of(items, index)
        if not name:
            issues.error(doc.file, line, f"{path}[{index}].name", "required field is missing")
        elif problem := check(name):
            issues.error(doc.file, line, f"{path}[{index}].name", problem)
        elif name in names:
            issues.error(doc.file, line, f"{path}[{index}].name", f'"{name}" is used twice')
        names.add(name)
    return names


def _check_ports(container: Any, path: str, doc: Document, issues: Issues) -> None:
    ports = dict.get(container, "ports") or []
    for index, port in enumerate(ports):
        for field in ("containerPort", "hostPort"):
            number = dict.get(port, field)
            if number is not None and not 1 <= number <= 65535:
                issues.error(doc.file, line_of(port, field), f"{path}.ports[{index}].{field}",
                             f"{number} is not a port number (1-65535)")
        name = dict.get(port, "name")
        if name and (problem := port_name_problem(name)):
            issues.error(doc.file, line_of(port, "name"), f"{path}.ports[{index}].name", problem)


def _check_mounts(container: Any, path: str, volumes: set[str], doc: Document, issues: Issues) -> None:
    mounts = dict.get(container, "volumeMounts") or []
    for index, mount in enumerate(mounts):
        name = dict.get(mount, "name")
        if name not in volumes:
            issues.error(doc.file, line_of(mount, "name") or line_of(mounts, index),
                         f"{path}.volumeMounts[{index}].name",
                         f'no volume named "{name}" in this pod (add it under volumes)')

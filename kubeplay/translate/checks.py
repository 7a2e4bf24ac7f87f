"""Checks the schema cannot express: name formats, label syntax, unique names, port ranges,
mounts that name a defined volume, sizes and counts. Run on a document only after its types are
known to be right.

Every name that becomes a path or a host object is checked here by Kubernetes' own rule for it
(`kubeplay.names.name_problem`): object and namespace names, container and volume names, the
ConfigMaps, Secrets and claims a pod refers to, the keys that become volume files, image names.
"""

from __future__ import annotations

import re
from typing import Any

from kubeplay.names import DNS1035, DNS1035_LABEL, LABEL, SUBDOMAIN, name_problem, shown
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import line_of

PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")

WORKLOADS = {"Deployment", "ReplicaSet", "DaemonSet", "Job"}
ANNOTATIONS_MAX = 256 * 1024  # bytes of all keys and values together, as the API server allows
DATA_KEY_MAX = 253


def dns_label_problem(name: str) -> str:
    return name_problem(name, LABEL)


def dns_subdomain_problem(name: str) -> str:
    return name_problem(name, SUBDOMAIN)


def data_key_problem(key: Any) -> str:
    """A ConfigMap or Secret key, which becomes a file name in a volume (the API server's rule)."""
    if not isinstance(key, str) or not key:
        return "a key must be a non-empty string"
    if len(key) > DATA_KEY_MAX:
        return f"key {shown(key)} is longer than {DATA_KEY_MAX} characters"
    if not DATA_KEY.fullmatch(key):
        return f'key {shown(key)} may hold only letters, digits, "-", "_" and "."'
    if key in (".", "..") or key.startswith(".."):
        return f'key {shown(key)} must not be "." or "..", nor start with ".."'
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
    elif doc.kind == "Service" and not DNS1035_LABEL.fullmatch(name):
        issues.error(doc.file, line_of(metadata, "name"), "metadata.name",
                     f"{shown(name)} is not a valid Service name (a DNS-1035 label: starts with a letter)")
    else:
        check_name(metadata, "name", "metadata.name", DNS1035 if doc.kind == "Service" else SUBDOMAIN, doc, issues)
    check_name(metadata, "namespace", "metadata.namespace", LABEL, doc, issues)
    _check_labels(metadata, "metadata", doc, issues)
    _check_annotations(metadata, "metadata", doc, issues)
    spec = dict.get(body, "spec") or {}
    if doc.kind in ("ConfigMap", "Secret"):
        _check_data_keys(doc, issues)
    elif doc.kind == "Pod":
        _check_pod_spec(spec, "spec", doc, issues)
    elif doc.kind in WORKLOADS:
        _check_counts(spec, doc, issues)
        template = dict.get(spec, "template")
        if template is None:
            issues.error(doc.file, line_of(body, "spec") or doc.line, "spec.template", "required field is missing")
            return
        template_metadata = dict.get(template, "metadata") or {}
        _check_labels(template_metadata, "spec.template.metadata", doc, issues)
        _check_annotations(template_metadata, "spec.template.metadata", doc, issues)
        _check_pod_spec(dict.get(template, "spec") or {}, "spec.template.spec", doc, issues)


def check_name(parent: Any, key: str, path: str, rule: str, doc: Document, issues: Issues,
               line: int = 0) -> None:
    """The name at parent[key], when it is set, under one of kubeplay.names' rules."""
    name = dict.get(parent, key)
    if name is None:
        return
    if problem := name_problem(name, rule):
        issues.error(doc.file, line_of(parent, key) or line or doc.line, path, problem)


def _check_annotations(metadata: Any, path: str, doc: Document, issues: Issues) -> None:
    annotations = dict.get(metadata, "annotations") or {}
    total = 0
    for key, value in dict.items(annotations):
        total += len(str(key).encode()) + len(str(value).encode())
    if total > ANNOTATIONS_MAX:
        issues.error(doc.file, line_of(metadata, "annotations") or doc.line, f"{path}.annotations",
                     f"{total} bytes of annotations: at most {ANNOTATIONS_MAX} (256 KiB) are allowed")


def _check_counts(spec: Any, doc: Document, issues: Issues) -> None:
    for field in ("replicas", "parallelism", "completions"):
        count = dict.get(spec, field)
        if isinstance(count, int) and count < 0:
            issues.error(doc.file, line_of(spec, field) or doc.line, f"spec.{field}",
                         f"{count}: must be greater than or equal to 0")


def _check_data_keys(doc: Document, issues: Issues) -> None:
    for field in ("data", "binaryData", "stringData"):
        data = dict.get(doc.body, field) or {}
        for key in dict.keys(data):
            if problem := data_key_problem(key):
                issues.error(doc.file, line_of(data, key) or doc.line, f"{field}", problem)


def _check_labels(metadata: Any, path: str, doc: Document, issues: Issues) -> None:
    labels = dict.get(metadata, "labels") or {}
    for key, value in dict.items(labels):
        if problem := label_problem(str(key), str(value)):
            issues.error(doc.file, line_of(labels, key), f"{path}.labels", problem)


def _check_pod_spec(spec: Any, path: str, doc: Document, issues: Issues) -> None:
    if not dict.get(spec, "containers"):
        issues.error(doc.file, line_of(spec, "containers") or doc.line, f"{path}.containers",
                     "at least one container is required")
    for field in ("hostname", "subdomain"):
        check_name(spec, field, f"{path}.{field}", LABEL, doc, issues)
    volumes = dict.get(spec, "volumes") or []
    volume_names = _check_unique_names(volumes, f"{path}.volumes", dns_label_problem, doc, issues)
    for index, volume in enumerate(volumes):
        _check_volume_source(volume, f"{path}.volumes[{index}]", line_of(volumes, index), doc, issues)
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
            _check_image(container, "image", f"{item_path}.image", item_line, doc, issues)
            _check_env_references(container, item_path, doc, issues)
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


def _check_image(parent: Any, key: str, path: str, line: int, doc: Document, issues: Issues) -> None:
    image = dict.get(parent, key)
    if not image:
        issues.error(doc.file, line_of(parent, key) or line, path, "an image is required")
        return
    if problem := image_problem(image):
        issues.error(doc.file, line_of(parent, key) or line, path, problem)


_IMAGE_PROBLEMS: dict[str, str] = {}  # a run names the same few images again and again


def image_problem(image: str) -> str:
    """Why `image` is not a valid image reference; "" when it is."""
    if image not in _IMAGE_PROBLEMS:
        from kubeplay.errors import ReferenceFormatError
        from kubeplay.images.reference import check_reference

        try:
            check_reference(image)
            problem = ""
        except ReferenceFormatError as exc:
            problem = exc.message
        if len(_IMAGE_PROBLEMS) < 1000:
            _IMAGE_PROBLEMS[image] = problem
        return problem
    return _IMAGE_PROBLEMS[image]


def _check_volume_source(volume: Any, path: str, line: int, doc: Document, issues: Issues) -> None:
    """The names a volume refers to: a claim, a ConfigMap or Secret and its keys, an image."""
    if (claim := dict.get(volume, "persistentVolumeClaim")) is not None:
        check_name(claim, "claimName", f"{path}.persistentVolumeClaim.claimName", SUBDOMAIN, doc, issues, line)
    if (source := dict.get(volume, "configMap")) is not None:
        _check_object_reference(source, "name", f"{path}.configMap", line, doc, issues)
    if (source := dict.get(volume, "secret")) is not None:
        _check_object_reference(source, "secretName", f"{path}.secret", line, doc, issues)
    if (source := dict.get(volume, "image")) is not None:
        _check_image(source, "reference", f"{path}.image.reference", line, doc, issues)
    projected = dict.get(volume, "projected") or {}
    for index, projection in enumerate(dict.get(projected, "sources") or []):
        for field in ("configMap", "secret"):
            if (source := dict.get(projection, field)) is not None:
                _check_object_reference(source, "name", f"{path}.projected.sources[{index}].{field}", line,
                                        doc, issues)


def _check_object_reference(source: Any, key: str, path: str, line: int, doc: Document, issues: Issues) -> None:
    check_name(source, key, f"{path}.{key}", SUBDOMAIN, doc, issues, line)
    items = dict.get(source, "items") or []
    for index, item in enumerate(items):
        if problem := data_key_problem(dict.get(item, "key")):
            issues.error(doc.file, line_of(item, "key") or line_of(items, index) or line,
                         f"{path}.items[{index}].key", problem)


def _check_env_references(container: Any, path: str, doc: Document, issues: Issues) -> None:
    """The ConfigMaps and Secrets that envFrom and env valueFrom name, and their keys."""
    sources = dict.get(container, "envFrom") or []
    for index, source in enumerate(sources):
        for field in ("configMapRef", "secretRef"):
            if (ref := dict.get(source, field)) is not None:
                check_name(ref, "name", f"{path}.envFrom[{index}].{field}.name", SUBDOMAIN, doc, issues,
                           line_of(sources, index))
    entries = dict.get(container, "env") or []
    for index, entry in enumerate(entries):
        value_from = dict.get(entry, "valueFrom") or {}
        for field in ("configMapKeyRef", "secretKeyRef"):
            if (ref := dict.get(value_from, field)) is None:
                continue
            ref_path = f"{path}.env[{index}].valueFrom.{field}"
            check_name(ref, "name", f"{ref_path}.name", SUBDOMAIN, doc, issues, line_of(entries, index))
            if problem := data_key_problem(dict.get(ref, "key")):
                issues.error(doc.file, line_of(ref, "key") or line_of(entries, index), f"{ref_path}.key", problem)

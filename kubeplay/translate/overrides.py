"""What `play` can change before translation: --patch files and --configmap files.

A patch file holds one or more YAML documents, each one of:
  - a strategic merge patch (as `kubectl patch` applies; see strategic.py) that names its target
    itself: `kind` + `metadata.name`;
  - `{target: {kind: K, name: N}, strategic: {a strategic merge patch}}`;
  - `{target: {kind: K, name: N}, patch: [RFC 6902 operations]}`;
  - `{target: {kind: K, name: N}, merge: {a JSON merge patch (RFC 7386): lists replaced whole}}`.
Patches apply in order, before anything else looks at the manifests. What a strategic patch brings
keeps the patch file's lines, so an error in it is reported there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubeplay.errors import ManifestError
from kubeplay.translate.loader import Document, load
from kubeplay.translate.positions import Node, Seq, snapshot


def _read_patches(path: str) -> list[Any]:
    """The patch file's documents, as Nodes that know their lines."""
    from kubeplay.translate.loader import parse_nodes

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot be read: {exc}", hint="pass a readable patch file") from exc
    return parse_nodes(text, path)


def _target(patch: Any, where: str) -> tuple[str, str, list | None, dict | None, dict | None]:
    """(kind, name, json_patch_ops, merge_patch, strategic_patch) of one patch document."""
    if not isinstance(patch, dict):
        raise ManifestError(f"{where}: a patch must be a mapping", hint="see `kubeplay play --help` for the forms")
    if "target" in patch:
        target = dict.get(patch, "target")
        if not isinstance(target, dict) or not dict.get(target, "kind") or not dict.get(target, "name"):
            raise ManifestError(f"{where}: target needs kind and name", hint="target: {kind: Deployment, name: web}")
        ops, merge, strategic = (dict.get(patch, key) for key in ("patch", "merge", "strategic"))
        if [ops, merge, strategic].count(None) != 2:
            raise ManifestError(f"{where}: give one of patch (RFC 6902 operations), merge (a JSON merge patch) "
                                "or strategic (a strategic merge patch)",
                                hint="patch: [{op: replace, path: /spec/replicas, value: 2}]")
        if ops is not None and not isinstance(ops, list):
            raise ManifestError(f"{where}: patch must be a list of operations", hint="patch: [{op: ..., path: ...}]")
        if strategic is not None and not isinstance(strategic, dict):
            raise ManifestError(f"{where}: strategic must be a mapping", hint="strategic: {spec: {replicas: 2}}")
        return (dict.get(target, "kind"), dict.get(target, "name"), snapshot(ops), snapshot(merge), strategic)
    metadata = dict.get(patch, "metadata") or {}
    if not dict.get(patch, "kind") or not isinstance(metadata, dict) or not dict.get(metadata, "name"):
        raise ManifestError(f"{where}: a merge patch must name its target with kind and metadata.name",
                            hint="or use {target: {kind: K, name: N}, patch: [...]}")
    return dict.get(patch, "kind"), dict.get(metadata, "name"), None, None, patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: null deletes, mappings merge, everything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _repositioned(value: Any, old: Any, line: int) -> Any:
    """Plain data as Nodes/Seqs again, keeping the lines of whatever was there before the patch."""
    if isinstance(value, dict):
        node = Node(line=old.line if isinstance(old, Node) else line)
        for key, item in value.items():
            before = dict.get(old, key) if isinstance(old, dict) else None
            item_line = old.line_of(key) if isinstance(old, Node) else node.line
            dict.__setitem__(node, key, _repositioned(item, before, item_line))
            node.key_lines[key] = item_line
        return node
    if isinstance(value, list):
        seq = Seq(line=old.line if isinstance(old, Seq) else line)
        for index, item in enumerate(value):
            before = old[index] if isinstance(old, list) and index < len(old) else None
            item_line = old.line_of(index) if isinstance(old, Seq) else seq.line
            seq.append(_repositioned(item, before, item_line))
            seq.item_lines.append(item_line)
        return seq
    return value


def apply_patches(documents: list[Document], patch_files: list[str]) -> list[Document]:
    import jsonpatch

    for path in patch_files:
        for number, patch in enumerate(_read_patches(path), start=1):
            where = f"{path}: document {number}"
            kind, name, ops, merge, strategic = _target(patch, where)
            matches = [d for d in documents if d.kind == kind
                       and isinstance(dict.get(d.body, "metadata"), dict)
                       and dict.get(dict.get(d.body, "metadata"), "name") == name]
            if not matches:
                raise ManifestError(f"{where}: no {kind} named {name!r} in the manifests",
                                    hint="check the patch's kind and name against the played files")
            for document in matches:
                if strategic is not None:
                    from kubeplay.translate.strategic import Patcher

                    document.body = Patcher(path).merge_mapping(document.body, strategic)
                    continue
                original = snapshot(document.body)
                try:
                    patched = jsonpatch.apply_patch(original, ops) if ops is not None else merge_patch(original, merge)
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                    raise ManifestError(f"{where}: cannot apply to {kind} {name}: {exc}",
                                        hint="fix the operation's path or value") from exc
                if not isinstance(patched, dict):
                    raise ManifestError(f"{where}: the patch replaced the whole {kind} with a non-object",
                                        hint="patch fields inside the object")
                document.body = _repositioned(patched, document.body, document.line)
    return documents


def load_configmaps(paths: list[str]) -> list[Document]:
    """--configmap files: ConfigMaps (or Secrets) played alongside the manifests, nothing else."""
    documents = load(paths) if paths else []
    for document in documents:
        if document.kind not in ("ConfigMap", "Secret"):
            raise ManifestError(f"{document.file}:{document.line}: --configmap files may hold ConfigMaps "
                                f"(or Secrets) only, not {document.kind or 'an object without kind'}",
                                hint="pass other objects as ordinary manifests")
    return documents


def parse_publish(text: str) -> tuple[str, int, int, str]:
    """`[IP:]HOST:CONTAINER[/PROTO]` as (host_ip, host_port, container_port, protocol)."""
    spec, _, protocol = text.partition("/")
    protocol = (protocol or "tcp").upper()
    parts = spec.rsplit(":", 2)
    problem = None
    if protocol not in ("TCP", "UDP"):
        problem = f"protocol {protocol.lower()!r} is not tcp or udp"
    elif len(parts) < 2:
        problem = "expected [IP:]HOST:CONTAINER[/PROTO]"
    host_ip = parts[0] if len(parts) == 3 else ""
    try:
        host_port, container_port = int(parts[-2]), int(parts[-1])
    except (ValueError, IndexError):
        problem = problem or "ports must be numbers"
        host_port = container_port = 0
    if not problem and not (1 <= host_port <= 65535 and 1 <= container_port <= 65535):
        problem = "ports must be between 1 and 65535"
    if problem:
        raise ManifestError(f"--publish {text}: {problem}", hint="for example --publish 8080:80 or 127.0.0.1:5353:53/udp")
    return host_ip, host_port, container_port, protocol


def apply_publish(pods: list, specs: list[str]) -> list:
    """Give each pod the published ports: on the container that declares the port, else the first one."""
    from dataclasses import replace

    from kubeplay.model.plan import PortMapping

    if not specs or not pods:
        return pods
    wanted = [parse_publish(spec) for spec in specs]
    if len(pods) > 1:
        raise ManifestError(f"--publish applies to one pod, but these manifests make {len(pods)}",
                            hint="declare hostPort in the manifests of the pods that need one")
    result = []
    for pod in pods:
        containers = list(pod.containers)
        for host_ip, host_port, container_port, protocol in wanted:
            index = next((i for i, c in enumerate(containers)
                          if any(p.container_port == container_port and p.protocol == protocol for p in c.ports)), 0)
            target = containers[index]
            kept = tuple(p for p in target.ports if not (p.container_port == container_port and p.protocol == protocol))
            existing = next((p for p in target.ports if p.container_port == container_port and p.protocol == protocol),
                            None)
            mapping = PortMapping(container_port=container_port, protocol=protocol, host_port=host_port,
                                  host_ip=host_ip, name=existing.name if existing else "")
            containers[index] = replace(target, ports=kept + (mapping,))
        result.append(replace(pod, containers=tuple(containers)))
    return result

"""Strategic merge patch, as `kubectl patch` applies it to the objects kubeplay plays: mappings
merge and null deletes (as in a JSON merge patch), but the lists Kubernetes gives a merge key are
merged item by item on that key instead of replaced: containers, initContainers, env, volumes,
imagePullSecrets by name, volumeMounts by mountPath, a container's ports by containerPort, a
Service's by port. An item `{name: x, $patch: delete}` removes x; `$patch: replace` on a mapping
replaces it whole.

Works on the loader's Nodes and Seqs: what the original had keeps its lines, and what the patch
brings carries the patch file's lines (positions.SourceLine), so a mistake made in the patch is
reported at the patch's file and line.
"""

from __future__ import annotations

from typing import Any

from kubeplay.errors import ManifestError
from kubeplay.translate.positions import Node, Seq, SourceLine

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "imagePullSecrets": "name", "resourceClaims": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "hostAliases": "ip", "readinessGates": "conditionType",
}
DIRECTIVE = "$patch"


def merge_key(field: str, *lists: list) -> str | None:
    """The key items of list `field` are merged on; None: the list is replaced."""
    if field == "ports":  # a container's ports, or a Service's
        items = [item for items in lists for item in items if isinstance(item, dict)]
        return "containerPort" if any("containerPort" in item for item in items) else "port"
    return MERGE_KEYS.get(field)


class Patcher:
    """Applies one patch document, from `file`, to documents."""

    def __init__(self, file: str) -> None:
        self.file = file

    def line(self, line: int) -> SourceLine:
        return SourceLine(line, self.file)

    def merge(self, original: Any, patch: Any) -> Any:
        if isinstance(patch, dict):
            if dict.get(patch, DIRECTIVE) == "replace" or not isinstance(original, dict):
                return self.copy(patch)
            return self.merge_mapping(original, patch)
        return self.copy(patch)

    def merge_mapping(self, original: dict, patch: dict) -> Node:
        result = Node(line=getattr(original, "line", 0))
        for key, value in dict.items(original):
            dict.__setitem__(result, key, value)
            result.key_lines[key] = original.line_of(key) if isinstance(original, Node) else result.line
        for key, value in dict.items(patch):
            if isinstance(key, str) and key.startswith("$"):
                self.check_directive(patch, key)
                continue
            if value is None:
                dict.pop(result, key, None)
                result.key_lines.pop(key, None)
                continue
            before = dict.get(result, key)
            field = merge_key(key, before, value) if isinstance(before, list) and isinstance(value, list) else None
            merged = self.merge_list(before, value, key, field) if field else self.merge(before, value)
            dict.__setitem__(result, key, merged)
            result.key_lines[key] = self.line(patch.line_of(key) if isinstance(patch, Node) else 0)
        return result

    def merge_list(self, original: list, patch: list, field: str, key: str) -> Seq:
        result = Seq(line=getattr(original, "line", 0))
        for index, item in enumerate(original):
            result.append(item)
            result.item_lines.append(original.line_of(index) if isinstance(original, Seq) else result.line)
        for index, item in enumerate(patch):
            line = patch.line_of(index) if isinstance(patch, Seq) else 0
            if not isinstance(item, dict) or dict.get(item, key) is None:
                raise ManifestError(f"{self.file}:{line}: {field}[{index}]: an item of {field} needs its merge key "
                                    f"{key!r}", hint=f"name the item to patch with {key}: (strategic merge patch)")
            found = next((i for i, there in enumerate(result)
                          if isinstance(there, dict) and dict.get(there, key) == dict.get(item, key)), None)
            if dict.get(item, DIRECTIVE) == "delete":
                if found is not None:
                    del result[found]
                    del result.item_lines[found]
                continue
            if found is None:
                result.append(self.copy(item))
                result.item_lines.append(self.line(line))
            else:
                result[found] = self.merge(result[found], item)
                result.item_lines[found] = self.line(line)
        return result

    def check_directive(self, patch: dict, key: str) -> None:
        value = dict.get(patch, key)
        if key == DIRECTIVE and value in ("replace", "delete", "merge"):
            return
        line = patch.line_of(key) if isinstance(patch, Node) else 0
        raise ManifestError(f"{self.file}:{line}: {key}: {value!r} is not a directive kubeplay applies",
                            hint="use $patch: delete (in a list item) or $patch: replace (on a mapping)")

    def copy(self, value: Any) -> Any:
        """The patch's value as Nodes and Seqs whose lines name the patch file, directives left out."""
        if isinstance(value, dict):
            node = Node(line=self.line(getattr(value, "line", 0)))
            for key, item in dict.items(value):
                if isinstance(key, str) and key.startswith("$"):
                    self.check_directive(value, key)
                    continue
                dict.__setitem__(node, key, self.copy(item))
                node.key_lines[key] = self.line(value.line_of(key) if isinstance(value, Node) else 0)
            return node
        if isinstance(value, list):
            seq = Seq(line=self.line(getattr(value, "line", 0)))
            for index, item in enumerate(value):
                seq.append(self.copy(item))
                seq.item_lines.append(self.line(value.line_of(index) if isinstance(value, Seq) else 0))
            return seq
        return value

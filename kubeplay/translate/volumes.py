"""Pod volumes as VolumePlans, with ConfigMap/Secret/downwardAPI content resolved into files.

hostPath is made absolute against the manifest's directory (not the current one); whether it
exists is checked when the pod starts, not here. File paths inside volumes must stay inside them.
"""

from __future__ import annotations

import posixpath
from typing import Any

from kubeplay.model.plan import VolumeFile, VolumePlan
from kubeplay.translate.context import DataSource, PodContext
from kubeplay.translate.env import RUNTIME_FIELDS, field_value, resource_value
from kubeplay.translate.positions import line_of, plain
from kubeplay.translate.quantity import QuantityError, to_units

DEFAULT_MODE = 0o644  # Kubernetes' default for configMap, secret, downwardAPI and projected
SUPPORTED = ("hostPath", "emptyDir", "configMap", "secret", "persistentVolumeClaim", "downwardAPI",
             "projected", "image")


def volume_plans(ctx: PodContext, pod_spec: Any, containers: list) -> tuple[VolumePlan, ...]:
    volumes = pod_spec.get("volumes") or []
    plans = []
    for index, volume in enumerate(volumes):
        plan = _volume(ctx, volume, containers, f"{ctx.path}.volumes[{index}]", line_of(volumes, index))
        if plan is not None:
            plans.append(plan)
    return tuple(plans)


def unsafe_relative_path(path: str) -> str:
    """Why `path` could leave its volume, or "" when it is a safe relative path."""
    if path.startswith("/"):
        return "must be a relative path"
    if ".." in path.split("/"):
        return 'must not contain ".."'
    if "\0" in path:
        return "must not hold a NUL character"
    return ""


def unsafe_file_path(path: str) -> str:
    """Why `path` cannot name a file inside its volume, or "" when it can (an item's path)."""
    if path in ("", ".") or path.endswith("/"):
        return "must name a file"
    return unsafe_relative_path(path)


def _volume(ctx: PodContext, volume: Any, containers: list, path: str, line: int) -> VolumePlan | None:
    name = volume.get("name")
    kinds = [key for key in dict.keys(volume) if key != "name"]
    if len(kinds) != 1:
        ctx.error(line, path, f'volume "{name}" needs exactly one source (found {", ".join(kinds) or "none"})')
        return None
    kind = kinds[0]
    source = volume.get(kind) or {}
    if kind not in SUPPORTED:
        ctx.error(line_of(volume, kind), f"{path}.{kind}",
                  f"kubeplay cannot provide {kind} volumes; use hostPath, emptyDir or persistentVolumeClaim")
        return None
    base = {"name": name, "kind": kind, "raw": plain(source), "line": line_of(volume, kind) or line}
    where = f"{path}.{kind}"
    if kind == "hostPath":
        host_path = posixpath.normpath(posixpath.join(ctx.doc.base_dir or "/", source.get("path") or ""))
        return VolumePlan(**base, host_path=host_path, host_path_type=source.get("type") or "")
    if kind == "emptyDir":
        size = source.get("sizeLimit")
        return VolumePlan(**base, medium=source.get("medium") or "",
                          size_limit=to_units(size) if size is not None else None)
    if kind == "persistentVolumeClaim":
        return VolumePlan(**base, claim_name=source.get("claimName") or "",
                          read_only=bool(source.get("readOnly")))
    if kind == "image":
        return VolumePlan(**base, image=source.get("reference") or "", read_only=True)
    if kind in ("configMap", "secret"):
        object_kind = "ConfigMap" if kind == "configMap" else "Secret"
        object_name = source.get("name" if kind == "configMap" else "secretName") or ""
        optional = bool(source.get("optional"))
        files = _object_files(ctx, object_kind, object_name, source, optional, where)
        return VolumePlan(**base, source_name=object_name, files=files, optional=optional,
                          default_mode=_default_mode(source))
    files = _downward_files(ctx, source, containers, where) if kind == "downwardAPI" \
        else _projected_files(ctx, source, containers, where)
    return VolumePlan(**base, files=files, default_mode=_default_mode(source))


def _default_mode(source: Any) -> int:
    mode = source.get("defaultMode")
    return mode if mode is not None else DEFAULT_MODE


def _object_files(ctx: PodContext, kind: str, name: str, source: Any, optional: bool,
                  path: str) -> tuple[VolumeFile, ...]:
    found: DataSource | None = ctx.lookup(kind, name)
    if found is None:
        if not optional:
            ctx.error(source.line if hasattr(source, "line") else 0, path,
                      f'{kind} "{name}" not found (pod {ctx.pod_name}); add it to the manifests or '
                      "mark the volume optional: true")
        return ()
    items = source.get("items")
    if not items:
        return tuple(VolumeFile(path=key, content=value) for key, value in sorted(found.binary.items()))
    files = []
    for index, item in enumerate(items):
        item_path, line = f"{path}.items[{index}]", line_of(items, index)
        key, relative = item.get("key") or "", item.get("path") or ""
        if problem := unsafe_file_path(relative):
            ctx.error(line_of(item, "path") or line, f"{item_path}.path", f'"{relative}" {problem}')
            continue
        if key not in found.binary:
            if not optional:
                ctx.error(line_of(item, "key") or line, f"{item_path}.key",
                          f'key "{key}" not found in {kind} "{name}"')
            continue
        files.append(VolumeFile(path=relative, content=found.binary[key], mode=item.get("mode")))
    return tuple(files)


def _downward_files(ctx: PodContext, source: Any, containers: list, path: str) -> tuple[VolumeFile, ...]:
    items = source.get("items") or []
    files = []
    for index, item in enumerate(items):
        item_path, line = f"{path}.items[{index}]", line_of(items, index)
        relative = item.get("path") or ""
        if problem := unsafe_file_path(relative):
            ctx.error(line_of(item, "path") or line, f"{item_path}.path", f'"{relative}" {problem}')
            continue
        file = _downward_file(ctx, item, relative, containers, item_path, line)
        if file is not None:
            files.append(file)
    return tuple(files)


def _downward_file(ctx: PodContext, item: Any, relative: str, containers: list, path: str,
                   line: int) -> VolumeFile | None:
    mode = item.get("mode")
    if (ref := item.get("fieldRef")) is not None:
        field_path = ref.get("fieldPath") or ""
        if field_path in ("metadata.labels", "metadata.annotations"):
            table = ctx.labels if field_path == "metadata.labels" else ctx.annotations
            text = "".join(f'{key}="{value}"\n' for key, value in sorted(table.items()))
            return VolumeFile(path=relative, content=text.encode(), mode=mode)
        if field_path in RUNTIME_FIELDS:
            return VolumeFile(path=relative, field_path=field_path, mode=mode)
        value = field_value(ctx, field_path)
        if value is None:
            ctx.error(line_of(ref, "fieldPath") or line, f"{path}.fieldRef.fieldPath",
                      f'unsupported field "{field_path}"')
            return None
        return VolumeFile(path=relative, content=value.encode(), mode=mode)
    if (ref := item.get("resourceFieldRef")) is not None:
        wanted = ref.get("containerName")
        target = next((c for c in containers if dict.get(c, "name") == wanted), None)
        if target is None:
            ctx.error(line, f"{path}.resourceFieldRef.containerName", f'no container named "{wanted}"')
            return None
        try:
            return VolumeFile(path=relative, content=resource_value(target, ref).encode(), mode=mode)
        except QuantityError as exc:
            ctx.error(line, f"{path}.resourceFieldRef", str(exc))
            return None
    ctx.error(line, path, "needs fieldRef or resourceFieldRef")
    return None


def _projected_files(ctx: PodContext, source: Any, containers: list, path: str) -> tuple[VolumeFile, ...]:
    sources = source.get("sources") or []
    files: list[VolumeFile] = []
    for index, projection in enumerate(sources):
        item_path = f"{path}.sources[{index}]"
        if (part := projection.get("configMap")) is not None:
            files += _object_files(ctx, "ConfigMap", part.get("name") or "", part,
                                   bool(part.get("optional")), f"{item_path}.configMap")
        elif (part := projection.get("secret")) is not None:
            files += _object_files(ctx, "Secret", part.get("name") or "", part,
                                   bool(part.get("optional")), f"{item_path}.secret")
        elif (part := projection.get("downwardAPI")) is not None:
            files += _downward_files(ctx, part, containers, f"{item_path}.downwardAPI")
        else:
            kinds = ", ".join(str(key) for key in dict.keys(projection)) or "nothing"
            plain(projection)  # reported here, so not again as an ignored field
            ctx.warn(line_of(sources, index), item_path,
                     f"kubeplay cannot project {kinds} (there is no API server); this source is skipped")
    return tuple(files)

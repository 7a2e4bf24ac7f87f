"""The ConfigMaps and Secrets pods use, rebuilt from what their plans resolved.

A plan keeps the content it read (env values, volume files) and where each came from, so an
object can be rebuilt with the keys the pods use; keys nobody used are not known and not given.
A key read into the environment was in `data`; one seen only as a volume file of an object that
also fed `envFrom` cannot have been in `data` (it would have become a variable), so it goes to
`binaryData`, as does content that is not UTF-8.
"""

from __future__ import annotations

from kubeplay.model.plan import PodPlan, VolumeFile, VolumePlan

KINDS = {"configMapKeyRef": "ConfigMap", "secretKeyRef": "Secret", "configMapRef": "ConfigMap",
         "secretRef": "Secret", "configMap": "ConfigMap", "secret": "Secret"}


class DataObject:
    """A ConfigMap or Secret that pods use, gathered back from their volumes and env."""

    def __init__(self, kind: str, name: str, namespace: str) -> None:
        self.kind = kind  # ConfigMap or Secret
        self.name = name
        self.namespace = namespace
        self.values: dict[str, bytes] = {}
        self.in_env: set[str] = set()  # keys seen as variables
        self.feeds_env_from = False


class DataObjects:
    """Every ConfigMap and Secret the given pods read, keyed by (kind, namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], DataObject] = {}
        self.warnings: list[str] = []

    def add_pod(self, plan: PodPlan) -> None:
        # envFrom variables first: they come in the object's own key order, which the rebuilt
        # object must keep so that playing it back defines the variables in the same order
        variables = [var for c in plan.all_containers for var in c.env]
        for var in sorted(variables, key=lambda var: "envFrom" not in (var.source or {})):
            self._add_variable(plan, var.name, var.value, var.source or {})
        for volume in plan.volumes:
            if volume.kind in ("configMap", "secret"):
                self._add_volume(plan, volume)
            elif volume.kind == "projected":
                self._add_projected(plan, volume)

    def _object(self, kind: str, namespace: str, name: str) -> DataObject:
        key = (kind, namespace, name)
        if key not in self.objects:
            self.objects[key] = DataObject(kind, name, namespace)
        return self.objects[key]

    def _put(self, plan: PodPlan, target: DataObject, key: str, value: bytes) -> None:
        known = target.values.get(key)
        if known is not None and known != value:
            self.warnings.append(f'{target.kind} "{target.name}" key "{key}" differs between pods; '
                                 f'the value pod "{plan.name}" saw is not the one given')
            return
        target.values[key] = value

    def _add_variable(self, plan: PodPlan, name: str, value: str, source: dict) -> None:
        content = value.encode("utf-8", "surrogateescape")
        if "envFrom" in source:
            entry = source["envFrom"]
            ref_field = "configMapRef" if "configMapRef" in entry else "secretRef"
            ref = entry.get(ref_field) or {}
            prefix = entry.get("prefix") or ""
            target = self._object(KINDS[ref_field], plan.namespace, ref.get("name") or "")
            target.feeds_env_from = True
            key = name[len(prefix):] if name.startswith(prefix) else name
        else:
            ref_field = next((f for f in ("configMapKeyRef", "secretKeyRef") if f in source), "")
            if not ref_field:
                return
            ref = source[ref_field] or {}
            target = self._object(KINDS[ref_field], plan.namespace, ref.get("name") or "")
            key = ref.get("key") or ""
        target.in_env.add(key)
        self._put(plan, target, key, content)

    def _add_volume(self, plan: PodPlan, volume: VolumePlan) -> None:
        kind = KINDS[volume.kind]
        raw = volume.raw or {}
        self._add_files(plan, kind, volume.source_name, raw.get("items"), volume.files, None)

    def _add_files(self, plan: PodPlan, kind: str, name: str, items: list | None,
                   files: tuple[VolumeFile, ...], only: set[str] | None) -> None:
        target = self._object(kind, plan.namespace, name)
        by_path = {item.get("path"): item.get("key") for item in items or ()}
        for file in files:
            if file.field_path or (only is not None and file.path not in only):
                continue
            key = by_path.get(file.path) if items else file.path
            if key is not None:
                self._put(plan, target, key, file.content)

    def _add_projected(self, plan: PodPlan, volume: VolumePlan) -> None:
        sources = (volume.raw or {}).get("sources") or []
        claimed: set[str] = set()
        whole: list[tuple[str, str]] = []  # object sources without items: they gave every key
        for source in sources:
            for field_name in ("configMap", "secret"):
                part = source.get(field_name)
                if part is None:
                    continue
                if part.get("items"):
                    paths = {item.get("path") for item in part["items"]}
                    claimed |= paths
                    self._add_files(plan, KINDS[field_name], part.get("name") or "", part["items"],
                                    volume.files, paths)
                else:
                    whole.append((KINDS[field_name], part.get("name") or ""))
            for item in (source.get("downwardAPI") or {}).get("items") or ():
                claimed.add(item.get("path"))
        rest = {file.path for file in volume.files} - claimed
        if len(whole) == 1:
            self._add_files(plan, whole[0][0], whole[0][1], None, volume.files, rest)
        elif whole and rest:
            self.warnings.append(f'pod "{plan.name}": volume "{volume.name}" projects several objects without '
                                 "items; which file came from which cannot be told, so their keys are not given")

    def documents(self, kind: str) -> list[tuple[DataObject, dict]]:
        """(object, its body fields) for each object of `kind` with content, by namespace and name."""
        found = sorted((obj for obj in self.objects.values() if obj.kind == kind and obj.values),
                       key=lambda obj: (obj.namespace, obj.name))
        return [(obj, _secret_body(obj) if kind == "Secret" else _configmap_body(obj)) for obj in found]


def _base64(content: bytes) -> str:
    from binascii import b2a_base64  # here: only ConfigMaps and Secrets need it

    return b2a_base64(content, newline=False).decode("ascii")


def _configmap_body(obj: DataObject) -> dict:
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, content in obj.values.items():
        text = _text(content)
        if text is not None and (key in obj.in_env or not obj.feeds_env_from):
            data[key] = text
        else:
            binary[key] = _base64(content)
    return {"data": data or None, "binaryData": binary or None}


def _secret_body(obj: DataObject) -> dict:
    return {"data": {key: _base64(value) for key, value in obj.values.items()}}


def _text(content: bytes) -> str | None:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None

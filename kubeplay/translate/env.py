"""A container's environment: envFrom, env values with `$(VAR)`, and every kind of valueFrom.

Order and precedence follow the kubelet: envFrom sources first (later sources win), then env entries
in order (an env entry wins over envFrom); a value is expanded against the variables defined before
it. References to ConfigMaps and Secrets resolve against the objects of the same run.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from kubeplay.model.plan import EnvVar
from kubeplay.translate.context import PodContext
from kubeplay.translate.execsize import ExecBudget, string_bytes, too_long
from kubeplay.translate.expansion import expand
from kubeplay.translate.positions import line_of, plain
from kubeplay.translate.quantity import QuantityError, parse_quantity

# resolved when the pod runs, not now
RUNTIME_FIELDS = {"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs"}
_KEYED_FIELD = re.compile(r"metadata\.(labels|annotations)\['(?P<key>[^']*)'\]")


def field_value(ctx: PodContext, field_path: str) -> str | None:
    """The value of a downward-API field known now; None for unknown or runtime-only fields."""
    simple = {
        "metadata.name": ctx.pod_name, "metadata.namespace": ctx.namespace, "metadata.uid": ctx.uid,
        "spec.nodeName": ctx.node_name, "spec.serviceAccountName": ctx.service_account,
    }
    if field_path in simple:
        return simple[field_path]
    if match := _KEYED_FIELD.fullmatch(field_path):
        table = ctx.labels if match.group(1) == "labels" else ctx.annotations
        return table.get(match.group("key"), "")
    return None


def resource_value(container: Any, ref: Any) -> str:
    """resourceFieldRef: a container's request or limit divided by `divisor`, rounded up.

    An unset limit reads as the machine's capacity, as it reads as node allocatable in Kubernetes.
    """
    resource = ref.get("resource") or ""
    divisor = parse_quantity(ref.get("divisor") or "1")
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    quantity = (resources.get(kind) or {}).get(name)
    if quantity is None and kind == "requests":
        quantity = (resources.get("limits") or {}).get(name)
    if quantity is None and kind == "requests":
        value = parse_quantity(0)
    elif quantity is None:
        value = parse_quantity(_capacity(name))
    else:
        value = parse_quantity(quantity)
    if divisor == 0:
        raise QuantityError("divisor must not be zero")
    return str(math.ceil(value / divisor))


def _capacity(name: str) -> int:
    if name == "cpu":
        return os.cpu_count() or 1
    if name == "memory":
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return 0


def valid_env_name(name: str) -> bool:
    """Kubernetes accepts any printable ASCII except "=" in environment variable names."""
    return bool(name) and "=" not in name and all(" " <= ch <= "~" for ch in name)


class Environment:
    """A container's variables as they are defined: in order, each name once, with the values known
    so far (for $(VAR), kept along rather than rebuilt per entry) and what they cost execve."""

    def __init__(self, ctx: PodContext) -> None:
        self.ctx = ctx
        self.vars: dict[str, EnvVar] = {}
        self.known: dict[str, str] = {}
        self.budget = ExecBudget()

    def define(self, var: EnvVar, line: int, path: str) -> bool:
        """Add `var`, last in order, replacing an earlier one of its name; False when it cannot
        be passed to a process at all (the error is reported) or the environment is already full."""
        text = f"{var.name}={var.value}"
        if problem := too_long(text):
            self.ctx.error(line, path, f"variable {var.name}: {problem}")
            return False
        self.vars.pop(var.name, None)
        self.vars[var.name] = var
        self.budget.set(var.name, string_bytes(text))
        if var.field_path is None:
            self.known[var.name] = var.value
        else:
            self.known.pop(var.name, None)  # resolved when the pod runs: $(VAR) of it stays as written
        if self.budget.exhausted():
            self.ctx.error(line, path, self.budget.over(0))
            return False
        return True


def container_env(ctx: PodContext, container: Any, containers: list, path: str) -> Environment:
    """The container's variables in order, each name once (the last definition wins)."""
    env = Environment(ctx)
    if not _add_env_from(ctx, container, path, env):
        return env
    entries = container.get("env") or []
    for index, entry in enumerate(entries):
        item_path = f"{path}.env[{index}]"
        line = line_of(entries, index)
        var = _env_entry(ctx, entry, container, containers, item_path, line, env.known)
        if var is not None and not env.define(var, line, item_path):
            break  # reported; what follows is not worth the work
    return env


def _add_env_from(ctx: PodContext, container: Any, path: str, env: Environment) -> bool:
    sources = container.get("envFrom") or []
    for index, source in enumerate(sources):
        item_path = f"{path}.envFrom[{index}]"
        prefix = source.get("prefix") or ""
        for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(field)
            if ref is None:
                continue
            name, optional = ref.get("name") or "", bool(ref.get("optional"))
            found = ctx.lookup(kind, name)
            if found is None:
                if not optional:
                    ctx.error(line_of(sources, index), f"{item_path}.{field}",
                              f'{kind} "{name}" not found (pod {ctx.pod_name})')
                continue
            origin = {"envFrom": plain(source)}
            for key, value in found.text.items():
                var_name = prefix + key
                if not valid_env_name(var_name):
                    ctx.warn(line_of(sources, index), item_path,
                             f'skipped key "{key}" of {kind} "{name}": "{var_name}" is not a valid '
                             "environment variable name")
                    continue
                if not env.define(EnvVar(name=var_name, value=value, source=origin), line_of(sources, index),
                                  item_path):
                    return False
    return True


def _env_entry(ctx: PodContext, entry: Any, container: Any, containers: list, path: str, line: int,
               known: dict[str, str]) -> EnvVar | None:
    name = entry.get("name") or ""
    value_from = entry.get("valueFrom")
    if value_from is None:
        return EnvVar(name=name, value=expand(entry.get("value") or "", known))
    source = plain(value_from)
    where = f"pod {ctx.pod_name}, container {container.get('name')}, variable {name}"
    if (ref := value_from.get("fieldRef")) is not None:
        field_path = ref.get("fieldPath") or ""
        if field_path in RUNTIME_FIELDS:
            return EnvVar(name=name, field_path=field_path, source=source)
        value = field_value(ctx, field_path)
        if value is None or field_path in ("metadata.labels", "metadata.annotations"):
            ctx.error(line, f"{path}.valueFrom.fieldRef.fieldPath",
                      f'unsupported field "{field_path}" ({where})')
            return None
        return EnvVar(name=name, value=value, source=source)
    if (ref := value_from.get("resourceFieldRef")) is not None:
        target = _target_container(ref, container, containers)
        if target is None:
            ctx.error(line, f"{path}.valueFrom.resourceFieldRef.containerName",
                      f'no container named "{ref.get("containerName")}" ({where})')
            return None
        try:
            return EnvVar(name=name, value=resource_value(target, ref), source=source)
        except QuantityError as exc:
            ctx.error(line, f"{path}.valueFrom.resourceFieldRef", f"{exc} ({where})")
            return None
    for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        if (ref := value_from.get(field)) is not None:
            return _key_ref(ctx, kind, ref, name, f"{path}.valueFrom.{field}", line, where, source)
    ctx.error(line, f"{path}.valueFrom", f"names no source kubeplay knows ({where})")
    return None


def _target_container(ref: Any, container: Any, containers: list) -> Any:
    wanted = ref.get("containerName")
    if not wanted:
        return container
    return next((c for c in containers if dict.get(c, "name") == wanted), None)


def _key_ref(ctx: PodContext, kind: str, ref: Any, name: str, path: str, line: int, where: str,
             source: dict) -> EnvVar | None:
    object_name, key, optional = ref.get("name") or "", ref.get("key") or "", bool(ref.get("optional"))
    found = ctx.lookup(kind, object_name)
    value = found.env_value(key) if found else None
    if value is not None:
        return EnvVar(name=name, value=value, source=source)
    if not optional:
        missing = f'{kind} "{object_name}" not found' if found is None else \
            f'key "{key}" not found in {kind} "{object_name}"'
        ctx.error(line, path, f"{missing} ({where}); mark it optional: true or add it to the manifests")
    return None

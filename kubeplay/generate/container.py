"""One ContainerPlan as a Kubernetes container (camelCase dict), leaving out what is a default.

Left out: anything at its Kubernetes default, fields equal to the image's own config (command,
args, workingDir, env entries), and security settings the container inherits from its pod.
Resolved values go back as the references they came from (valueFrom, envFrom), never as values.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kubeplay.generate.text import default_pull_policy, escape_references
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import ActionPlan, ContainerPlan, EnvVar, ProbePlan, ResourcePlan, SecurityPlan

if TYPE_CHECKING:
    from typing import Any

PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1,
                  "successThreshold": 1, "failureThreshold": 3}


# fields whose values differ from pod to pod: references to them must stay references
IDENTITY_FIELDS = ("metadata.name", "metadata.uid")


def container_spec(plan: ContainerPlan, pod_security: SecurityPlan, image: ImageConfig | None) -> dict:
    text = _Text(plan.env)
    command, args = _argv(plan, image)
    env, env_from = _env(plan, image, text)
    spec: dict[str, Any] = {
        "name": plan.name,
        "image": plan.image,
        "imagePullPolicy": None if plan.image_pull_policy == default_pull_policy(plan.image)
        else plan.image_pull_policy,
        "command": text.all(command),
        "args": text.all(args),
        "workingDir": None if plan.working_dir == (image.working_dir if image else "") else plan.working_dir or None,
        "env": env or None,
        "envFrom": env_from or None,
        "ports": [_port(port) for port in plan.ports] or None,
        "volumeMounts": [_mount(mount) for mount in plan.mounts] or None,
        "resources": _resources(plan.resources),
        "securityContext": _security(plan.security, pod_security),
        "livenessProbe": _probe(plan.liveness_probe),
        "readinessProbe": _probe(plan.readiness_probe),
        "startupProbe": _probe(plan.startup_probe),
        "lifecycle": _lifecycle(plan),
        "tty": plan.tty or None,
        "stdin": plan.stdin or None,
        "restartPolicy": plan.restart_policy,
    }
    return {key: value for key, value in spec.items() if value is not None}


class _Text:
    """Expanded text back as Kubernetes would expand it to the same thing.

    `$` that expansion would read is escaped; the pod's own name or uid, which translation expanded
    from a variable (`$(POD_NAME)`), goes back as the reference, so another pod name (a new replica)
    expands to its own name again.
    """

    def __init__(self, env: tuple[EnvVar, ...]) -> None:
        self.env = env
        self.names = {var.name for var in env if var.field_path is None}

    def one(self, value: str, before: EnvVar | None = None) -> str:
        text = escape_references(value, self.names)
        for var in self._identities(before):
            # only where the name stands alone, not inside a longer word or path element
            reference = f"$({var.name})"
            text = re.sub(rf"(?<![\w.-]){re.escape(var.value)}(?![\w.-])", lambda _, ref=reference: ref, text)
        return text

    def all(self, values: tuple[str, ...] | None) -> list[str] | None:
        return None if values is None else [self.one(value) for value in values]

    def _identities(self, before: EnvVar | None) -> list[EnvVar]:
        found = []
        for var in self.env:
            if var is before:
                break
            field = ((var.source or {}).get("fieldRef") or {}).get("fieldPath")
            if field in IDENTITY_FIELDS and var.value:
                found.append(var)
        return sorted(found, key=lambda var: -len(var.value))


def _argv(plan: ContainerPlan, image: ImageConfig | None) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """command and args, without what the image says anyway (Kubernetes: a command drops the image's CMD)."""
    command, args = plan.command, plan.args
    if image is None:
        return command, args
    entrypoint, cmd = tuple(image.entrypoint or ()), tuple(image.cmd or ())
    if command is not None and tuple(command) == entrypoint and (args is not None or not cmd):
        command = None
    if command is None and args is not None and tuple(args) == cmd:
        args = None
    return command, args


def _env(plan: ContainerPlan, image: ImageConfig | None, text: _Text) -> tuple[list[dict], list[dict]]:
    """env entries and envFrom sources; a variable the image sets to the same value is left out."""
    image_env = set(image.env) if image else set()
    from_sources = any(var.source and "envFrom" in var.source for var in plan.env)
    entries: list[dict] = []
    sources: list[dict] = []
    for var in plan.env:
        origin = var.source or {}
        if "envFrom" in origin:
            if origin["envFrom"] not in sources:
                sources.append(origin["envFrom"])
        elif var.source is not None:
            entries.append({"name": var.name, "valueFrom": var.source})
        elif not from_sources and f"{var.name}={var.value}" in image_env:
            continue  # without envFrom nothing could hide the image's value
        else:
            entries.append({"name": var.name, "value": text.one(var.value, before=var)})
    return entries, sources


def _port(port) -> dict:
    return {"name": port.name or None, "containerPort": port.container_port,
            "protocol": port.protocol if port.protocol != "TCP" else None,
            "hostPort": port.host_port, "hostIP": port.host_ip or None}


def _mount(mount) -> dict:
    return {"name": mount.volume, "mountPath": mount.destination, "readOnly": mount.read_only or None,
            "subPath": mount.sub_path or None, "mountPropagation": mount.propagation or None}


def _resources(resources: ResourcePlan) -> dict | None:
    if resources.raw is not None:
        return {table: {key: str(value) for key, value in entries.items()} if isinstance(entries, dict) else entries
                for table, entries in resources.raw.items()} or None
    limits = _quantities(resources.cpu_limit_millis, resources.memory_limit)
    requests = _quantities(resources.cpu_request_millis, resources.memory_request)
    if requests == limits:
        requests = {}  # a request defaults to its limit
    result = {"limits": limits or None, "requests": requests or None}
    return result if limits or requests else None


def _quantities(cpu_millis: int | None, memory: int | None) -> dict[str, str]:
    table = {}
    if cpu_millis is not None:
        table["cpu"] = f"{cpu_millis}m"
    if memory is not None:
        table["memory"] = str(memory)
    return table


def seccomp(profile: str) -> dict | None:
    if not profile:
        return None
    kind, _, local = profile.partition(":")
    return {"type": kind, "localhostProfile": local or None}


def _security(own: SecurityPlan, pod: SecurityPlan) -> dict | None:
    def unless_inherited(mine: Any, inherited: Any) -> Any:
        return None if mine == inherited else mine

    capabilities = {"add": list(own.capabilities_add) or None, "drop": list(own.capabilities_drop) or None}
    context = {
        "privileged": own.privileged or None,
        "runAsUser": unless_inherited(own.run_as_user, pod.run_as_user),
        "runAsGroup": unless_inherited(own.run_as_group, pod.run_as_group),
        "runAsNonRoot": unless_inherited(own.run_as_non_root, pod.run_as_non_root),
        "readOnlyRootFilesystem": own.read_only_root_filesystem or None,
        "allowPrivilegeEscalation": own.allow_privilege_escalation,
        "capabilities": capabilities if any(capabilities.values()) else None,
        "procMount": own.proc_mount or None,
        "seccompProfile": seccomp(unless_inherited(own.seccomp_profile, pod.seccomp_profile) or ""),
    }
    context = {key: value for key, value in context.items() if value is not None}
    return context or None


def action(plan: ActionPlan) -> dict:
    if plan.kind == "exec":
        return {"exec": {"command": list(plan.command)}}
    if plan.kind == "sleep":
        return {"sleep": {"seconds": plan.seconds}}
    if plan.kind == "httpGet":
        headers = [{"name": name, "value": value} for name, value in plan.headers]
        return {"httpGet": {"path": plan.path if plan.path != "/" else None, "port": plan.port,
                            "host": plan.host or None, "scheme": plan.scheme if plan.scheme != "HTTP" else None,
                            "httpHeaders": headers or None}}
    if plan.kind == "grpc":
        return {"grpc": {"port": plan.port, "service": plan.service or None}}
    return {"tcpSocket": {"port": plan.port, "host": plan.host or None}}


def _probe(probe: ProbePlan | None) -> dict | None:
    if probe is None:
        return None
    values = {"initialDelaySeconds": probe.initial_delay_seconds, "periodSeconds": probe.period_seconds,
              "timeoutSeconds": probe.timeout_seconds, "successThreshold": probe.success_threshold,
              "failureThreshold": probe.failure_threshold}
    return {**action(probe.action),
            **{key: value for key, value in values.items() if value != PROBE_DEFAULTS[key]}}


def _lifecycle(plan: ContainerPlan) -> dict | None:
    lifecycle = {"postStart": action(plan.post_start) if plan.post_start else None,
                 "preStop": action(plan.pre_stop) if plan.pre_stop else None,
                 "stopSignal": plan.stop_signal or None}
    lifecycle = {key: value for key, value in lifecycle.items() if value is not None}
    return lifecycle or None

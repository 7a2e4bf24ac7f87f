"""`kubeplay run`'s flags as plans: the same plan a manifest saying the same would give (volume
sources kept as written, the node name and service account that translation fills in), so that
`generate` output plays back to an identical pod."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass

from kubeplay.defaults import node_name
from kubeplay.errors import UserError
from kubeplay.model.plan import ContainerPlan, EnvVar, MountPlan, PodPlan, PortMapping, VolumePlan

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
PORT = re.compile(r"(?:(?:(?P<ip>[0-9.]+):)?(?P<host>\d+):)?(?P<container>\d+)(?:/(?P<proto>tcp|udp))?",
                  re.IGNORECASE)
RESTART_POLICIES = ("Always", "OnFailure", "Never")


@dataclass(frozen=True)
class RunRequest:
    """What `kubeplay run` was asked for, as written on the command line."""

    name: str
    image: str
    ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    restart: str | None = None
    argv: tuple[str, ...] = ()  # after `--`: the image's CMD replaced, or with `command` its ENTRYPOINT
    command: bool = False
    image_pull_policy: str | None = None
    network: str = ""
    namespace: str = "default"


def _check_name(name: str, what: str) -> None:
    if not DNS_LABEL.fullmatch(name):
        raise UserError(f'{what} "{name}" is not a valid name',
                        hint="use at most 63 lower-case letters, digits and '-', starting and ending "
                             "with a letter or digit")


def default_pull_policy(image: str) -> str:
    """Kubernetes' default, as translation applies it: Always for `:latest` or no tag."""
    if "@" in image:
        return "IfNotPresent"
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def parse_port(text: str) -> PortMapping:
    match = PORT.fullmatch(text)
    numbers = [int(n) for n in (match.group("host"), match.group("container")) if n] if match else []
    if not match or not all(1 <= n <= 65535 for n in numbers):
        raise UserError(f'--port "{text}" is not [[IP:]HOST:]CONTAINER[/tcp|udp]',
                        hint="for example --port 8080 or --port 18080:8080 or --port 5353:53/udp")
    host = match.group("host")
    return PortMapping(container_port=int(match.group("container")),
                       protocol=(match.group("proto") or "tcp").upper(),
                       host_port=int(host) if host else None, host_ip=match.group("ip") or "")


def parse_pairs(items: tuple[str, ...], flag: str, split_commas: bool = False) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        for part in item.split(",") if split_commas else [item]:
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise UserError(f'{flag} "{part}" is not KEY=VALUE', hint=f"for example {flag} MODE=fast")
            pairs[key] = value
    return pairs


def parse_volume(text: str, container: str, index: int) -> tuple[VolumePlan, MountPlan]:
    parts = text.split(":")
    mode = parts.pop() if len(parts) == 3 else ""
    if len(parts) != 2 or not parts[0] or not parts[1].startswith("/") or mode not in ("", "ro", "rw"):
        raise UserError(f'--volume "{text}" is not SOURCE:DESTINATION[:ro]',
                        hint="SOURCE is a host path (/srv/data, ./data) or a volume name; "
                             "DESTINATION an absolute path in the container")
    source, destination = parts
    name = f"{container}-vol-{index}"
    if source.startswith(("/", ".")):
        path = os.path.normpath(os.path.abspath(source))
        volume = VolumePlan(name=name, kind="hostPath", host_path=path, raw={"path": path})
    else:
        _check_name(source, "volume")
        volume = VolumePlan(name=name, kind="persistentVolumeClaim", claim_name=source, raw={"claimName": source})
    return volume, MountPlan(volume=name, destination=destination, read_only=mode == "ro")


def container_plan(request: RunRequest) -> tuple[ContainerPlan, tuple[VolumePlan, ...]]:
    _check_name(request.name, "container")
    if not request.image:
        raise UserError("--image is required", hint="for example --image docker.io/library/busybox:latest")
    made = [parse_volume(text, request.name, i) for i, text in enumerate(request.volumes)]
    env = tuple(EnvVar(name=key, value=value) for key, value in parse_pairs(request.env, "--env").items())
    argv = tuple(request.argv) or None
    container = ContainerPlan(
        name=request.name,
        image=request.image,
        image_pull_policy=request.image_pull_policy or default_pull_policy(request.image),
        command=argv if request.command else None,
        args=None if request.command else argv,
        env=env,
        ports=tuple(parse_port(text) for text in request.ports),
        mounts=tuple(mount for _, mount in made),
    )
    return container, tuple(volume for volume, _ in made)


def pod_plan(request: RunRequest) -> PodPlan:
    container, volumes = container_plan(request)
    labels = parse_pairs(request.labels, "--labels", split_commas=True) or {"run": request.name}
    _check_name(request.namespace, "namespace")
    return PodPlan(name=request.name, namespace=request.namespace, uid=str(uuid.uuid4()), labels=labels,
                   containers=(container,),
                   volumes=volumes, restart_policy=request.restart or "Always",
                   service_account_name="default", node_name=node_name(),
                   network=request.network)


def joining_container(request: RunRequest, pod_name: str) -> tuple[ContainerPlan, tuple[VolumePlan, ...]]:
    """The container of `run --pod`: what belongs to the pod (restart policy, labels) is refused."""
    if request.restart:
        raise UserError("--restart cannot be given with --pod: the restart policy belongs to the pod",
                        hint=f"leave --restart out; pod {pod_name} keeps its own policy")
    if request.labels:
        raise UserError("--labels cannot be given with --pod: labels belong to the pod",
                        hint="leave --labels out")
    return container_plan(request)

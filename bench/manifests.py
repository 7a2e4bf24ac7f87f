"""The manifests both engines play: the same YAML text for each, written into the bench directory.

Every container exits promptly on SIGTERM (a shell with a trap waiting on its child), so `down`
measures the engines and not the grace period; both engines get the same
terminationGracePeriodSeconds anyway.
"""

from __future__ import annotations

from pathlib import Path

import yaml

GRACE_SECONDS = 10

# PID 1 of a container ignores signals it has no handler for: the trap gives the shell one
SERVE = ("trap 'exit 0' TERM; mkdir -p /www && echo ok > /www/index.html; "
         "httpd -f -p {port} -h /www & wait")
IDLE = "trap 'exit 0' TERM; sleep 3600 & wait"


def _container(name: str, image: str, script: str, ports: list[dict] | None = None) -> dict:
    container: dict = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
                       "command": ["sh", "-c", script]}
    if ports:
        container["ports"] = ports
    return container


def web_pod(name: str, image: str, host_port: int | None = None, container_port: int = 8080) -> dict:
    """Two containers: an HTTP server (optionally published on a hostPort) and an idle sidecar."""
    ports = [{"containerPort": container_port, "hostPort": host_port, "hostIP": "127.0.0.1"}] if host_port else None
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": GRACE_SECONDS,
            "restartPolicy": "Always",
            "containers": [_container("web", image, SERVE.format(port=container_port), ports),
                           _container("sidecar", image, IDLE)],
        },
    }


def idle_pod(name: str, image: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": GRACE_SECONDS, "restartPolicy": "Always",
                 "containers": [_container("idle", image, IDLE)]},
    }


def write(path: Path, documents: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def many_pods(path: Path, prefix: str, count: int, image: str) -> Path:
    """`count` Pod documents in one file (podman plays a Deployment as one pod, so no replicas here)."""
    return write(path, [idle_pod(f"{prefix}-{number:02d}", image) for number in range(count)])

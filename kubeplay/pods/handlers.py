"""Running one probe or lifecycle handler against a container, as the kubelet does: `exec` through
the runtime (like `kubeplay exec`), `httpGet` and `tcpSocket` from the host side inside the pod's
network namespace (so an image needs no curl or wget), `sleep` here. The answer says whether it
succeeded and, when not, what the kubelet would report.

This is the mechanism only; when to probe and what a result means is the probe monitor's business
(kubeplay.controllers). preStop hooks also run from here when a pod is stopped (pods.termination).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import KubeplayError
from kubeplay.model.plan import ActionPlan

USER_AGENT = "kube-probe/1.31"  # what the kubelet sends; some health endpoints look for it
BODY_LIMIT = 10240  # bytes of an HTTP answer read, as the kubelet reads


@dataclass(frozen=True)
class HandlerResult:
    """What a handler came to: success, and the kubelet's words for a failure."""

    ok: bool
    message: str = ""  # a failure's reason, or an exec handler's output
    timed_out: bool = False


@dataclass(frozen=True)
class Target:
    """Where a handler acts: the container, the pod's network namespace (None: the host's), its IP."""

    container_id: str
    netns: Path | None
    pod_ip: str


def run_handler(runtime, action: ActionPlan, target: Target, timeout: float) -> HandlerResult:
    """Run `action` against `target` within `timeout` seconds. `runtime` runs exec handlers (an
    OciRuntime); every failure is a result, never an exception."""
    if action.kind == "exec":
        return _exec(runtime, action, target, timeout)
    if action.kind == "httpGet":
        return _http_get(action, target, timeout)
    if action.kind == "tcpSocket":
        return _tcp_socket(action, target, timeout)
    if action.kind == "sleep":
        time.sleep(max(0.0, min(float(action.seconds), timeout)))
        return HandlerResult(True)
    return HandlerResult(False, f"kubeplay does not run {action.kind} handlers")


def _exec(runtime, action: ActionPlan, target: Target, timeout: float) -> HandlerResult:
    from kubeplay.runtime.oci_runtime import ExecTimedOut

    if not action.command:
        return HandlerResult(False, "the exec handler has no command")
    try:
        code, output = runtime.exec_output(target.container_id, list(action.command), timeout)
    except ExecTimedOut as exc:
        return HandlerResult(False, exc.message, timed_out=True)
    except KubeplayError as exc:
        return HandlerResult(False, exc.message)
    if code != 0:
        return HandlerResult(False, output.strip() or f"command {list(action.command)!r} exited with {code}")
    return HandlerResult(True, output.strip())


def _host(action: ActionPlan, target: Target) -> str:
    """Kubernetes' default host is the pod's IP; a pod without one (hostNetwork, network none) is
    reached on loopback."""
    return action.host or target.pod_ip or "127.0.0.1"


def _http_get(action: ActionPlan, target: Target, timeout: float) -> HandlerResult:
    host, port = _host(action, target), int(action.port or 0)
    scheme = (action.scheme or "HTTP").upper()
    path = action.path or "/"
    url = f"{scheme.lower()}://{host}:{port}{path}"

    def request() -> tuple[int, str]:
        import http.client

        if scheme == "HTTPS":
            import ssl

            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # as the kubelet: probes do not verify certificates
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                                                  context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        headers.update({name: value for name, value in action.headers})
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read(BODY_LIMIT)
            return response.status, response.reason
        finally:
            connection.close()

    outcome = _in_pod_network(target, request, f'Get "{url}"', timeout)
    if isinstance(outcome, HandlerResult):
        return outcome
    status, _ = outcome
    if 200 <= status < 400:
        return HandlerResult(True)
    return HandlerResult(False, f"HTTP probe failed with statuscode: {status}")


def _tcp_socket(action: ActionPlan, target: Target, timeout: float) -> HandlerResult:
    host, port = _host(action, target), int(action.port or 0)

    def connect() -> bool:
        import socket

        with socket.create_connection((host, port), timeout=timeout):
            return True

    outcome = _in_pod_network(target, connect, f"dial tcp {host}:{port}", timeout)
    return outcome if isinstance(outcome, HandlerResult) else HandlerResult(True)


def _in_pod_network(target: Target, work, doing: str, timeout: float):
    """`work()` inside the pod's network namespace; a network failure becomes a failed result that
    says what was tried, as the kubelet words it."""
    def guarded():
        try:
            return work()
        except TimeoutError:
            return HandlerResult(False, f"{doing}: timed out after {timeout:g}s", timed_out=True)
        except OSError as exc:
            return HandlerResult(False, f"{doing}: {_reason(exc)}")
        except Exception as exc:  # a malformed answer (http.client.HTTPException and the like)
            return HandlerResult(False, f"{doing}: {type(exc).__name__}: {exc}")

    if target.netns is None:
        return guarded()
    from kubeplay.net.netns import run_in_netns

    try:
        return run_in_netns(target.netns, guarded)
    except KubeplayError as exc:  # the namespace is gone (the pod is going) or cannot be entered
        return HandlerResult(False, exc.message)


def _reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    return (exc.strerror or str(exc)).lower()


def pod_target(settings, pod, container_id: str) -> Target:
    """The Target of a container of `pod` (a PodRecord): its network namespace as kubeplay pinned it,
    else the infra's; None for a pod on the host's network."""
    if pod.plan.host_network:
        return Target(container_id, None, pod.ip or "")
    from kubeplay.model.record import ContainerRole
    from kubeplay.net.netns import netns_path
    from kubeplay.nsfs import is_namespace_mount

    path = netns_path(settings, pod.id)
    if not is_namespace_mount(path):
        infra = next((c for c in pod.containers if c.role is ContainerRole.INFRA and c.pid), None)
        path = Path(f"/proc/{infra.pid}/ns/net") if infra else path
    return Target(container_id, path, pod.ip or "")


def describe_hook(action: ActionPlan) -> str:
    """How the kubelet names a hook in its events: `Exec lifecycle hook ([sh -c ...])`."""
    if action.kind == "exec":
        return f"Exec lifecycle hook ([{' '.join(action.command)}])"
    if action.kind == "httpGet":
        return f"HTTP lifecycle hook ({action.path or '/'})"
    return f"{action.kind} lifecycle hook"

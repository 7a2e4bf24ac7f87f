"""Which pods a Service sends traffic to, computed from the stored pods: pure, no I/O.

`pod_ready` is the one place that decides whether a pod takes Service traffic; every user of
endpoints (the nft rules, the headless names in /etc/hosts, `kubeplay services`) goes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kubeplay.model.record import ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.model.service import EndpointAddress, Endpoints, EndpointTarget, ServicePort, ServiceRecord


def pod_ready(pod: PodRecord) -> bool:
    """A pod takes Service traffic when it runs, has an address and all its containers are ready:
    running, and past their readiness or startup probe and postStart hook when they have one (the
    probe monitor records that as `ready`)."""
    if pod.phase is not PodPhase.RUNNING or not pod.ip:
        return False
    members = [c for c in pod.containers if c.role is ContainerRole.MEMBER]
    return bool(members) and all(c.status is ContainerStatus.RUNNING and (c.ready or not c.readiness_gated)
                                 for c in members)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service's selector matches a pod's labels; an empty selector selects nothing (Kubernetes
    leaves the endpoints of such a Service to be written by hand)."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def selected_pods(service: ServiceRecord, pods: Iterable[PodRecord]) -> list[PodRecord]:
    """The pods of the Service's namespace its selector matches, ready or not."""
    plan = service.plan
    return [pod for pod in pods if pod.plan.namespace == plan.namespace and selects(plan.selector, pod.plan.labels)]


def target_port(port: ServicePort, pod: PodRecord) -> int | None:
    """The pod's port for a Service port: the number, or the container port of that name and
    protocol; None when the pod has no such named port."""
    if isinstance(port.target_port, int):
        return port.target_port
    for container in pod.plan.all_containers:
        for declared in container.ports:
            if declared.name == port.target_port and (declared.protocol or "TCP") == port.protocol:
                return declared.container_port
    return None


def endpoints_of(service: ServiceRecord, pods: Iterable[PodRecord],
                 ready: Callable[[PodRecord], bool] = pod_ready) -> Endpoints:
    """The Service's ready pods, by name, and each port's targets on them."""
    chosen = [pod for pod in selected_pods(service, pods)
              if pod.ip and (ready(pod) or service.plan.publish_not_ready)]
    chosen.sort(key=lambda pod: (pod.ip, pod.name))  # stable rules: the same pods give the same chains
    addresses = tuple(EndpointAddress(pod.name, pod.ip, _hostname_under(service, pod)) for pod in chosen)
    targets = []
    for port in service.ports:
        found = []
        for pod in chosen:
            number = target_port(port, pod)
            if number is not None:
                found.append(EndpointTarget(pod.name, pod.ip, number))
        targets.append(tuple(found))
    return Endpoints(addresses=addresses, targets=tuple(targets))


def _hostname_under(service: ServiceRecord, pod: PodRecord) -> str:
    """The pod's hostname when its subdomain is this Service (HOSTNAME.SUBDOMAIN.NS.svc.DOMAIN)."""
    if pod.plan.subdomain == service.name and pod.plan.hostname:
        return pod.plan.hostname
    return ""

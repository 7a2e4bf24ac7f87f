"""Which pod a port-forward carries into, and whether it is still there: `prepare_forward` picks
the pod; `RouteFollower` notices when it goes. `kubectl port-forward` ends then ("lost connection to
pod"), and so does kubeplay's; for svc/NAME it moves on to another ready pod of the Service instead,
and ends only when none is left.

Read from the store (and the pod's network namespace) every FOLLOW_INTERVAL by Forwarder.serve:
nothing tells a running port-forward that another process removed its pod.
"""

from __future__ import annotations

from collections.abc import Callable

from kubeplay.errors import ConflictError, KubeplayError, NotFoundError
from kubeplay.model.record import PodPhase, PodRecord
from kubeplay.names import DEFAULT_NAMESPACE, pod_arguments, pod_label
from kubeplay.pods.portforward import LISTEN_ADDRESS, Forwarder, PortPair, Route, parse_port_pairs


class RouteFollower:
    """Called with the current Route, returns the Route to use; raises NotFoundError to end."""

    def __init__(self, engine, pairs: list[PortPair], service=None,
                 notice: Callable[[str], None] = lambda text: None) -> None:
        self.engine = engine
        self.pairs = pairs  # as asked: a Service's port (number or name) for svc/NAME
        self.service_record = service  # the ServiceRecord of svc/NAME; None: a pod was named
        self.notice = notice

    def __call__(self, route: Route) -> Route:
        why = self.lost(route)
        if why is None:
            return route
        if self.service_record is None:
            raise NotFoundError(f'lost connection to pod "{pod_label(route.pod_name)}": {why}')
        replacement = self.replacement(route)
        if replacement is None:
            raise NotFoundError(f'lost connection to pod "{pod_label(route.pod_name)}": {why}, and service '
                                f'"{self.service_record.name}" has no other ready pod')
        self.notice(f'pod "{pod_label(route.pod_name)}": {why}; forwarding to pod "{pod_label(replacement.pod_name)}" '
                    f'of service "{self.service_record.name}" from now on')
        return replacement

    def lost(self, route: Route) -> str | None:
        """Why the route's pod can take no more connections, or None while it can."""
        record = self.engine.store.find_pod(route.pod_name)
        if record is None or record.id != route.pod_id:
            return "it was removed"
        if record.phase is not PodPhase.RUNNING:
            return f"it is {record.phase.value.lower()}"
        if route.netns is not None and not route.netns.exists():
            return "its network namespace is gone"
        return None

    def replacement(self, route: Route) -> Route | None:
        """A route to another ready pod of the Service (it may have been removed too), or None."""
        from kubeplay.model.endpoints import pod_ready, selected_pods
        from kubeplay.pods.targets import choose_pod
        from kubeplay.store.services import ServiceStore

        wanted = (self.service_record.namespace, self.service_record.name)
        service = next((record for record in ServiceStore(self.engine.db).list()
                        if (record.namespace, record.name) == wanted), None)
        if service is None:
            return None
        self.service_record = service
        ready = [pod for pod in selected_pods(service, self.engine.store.list_pods())
                 if pod.id != route.pod_id and pod_ready(pod)]
        while ready:
            pod = choose_pod(ready)
            ready.remove(pod)
            try:
                return route_to(self.engine, pod, service, self.pairs)
            except KubeplayError:
                continue  # a pod without the named port the Service sends to: another may have it
        return None


def prepare_forward(engine, reference: str, specs: list[str], report: Callable[[str], None],
                    notice: Callable[[str], None] = lambda text: None,
                    addresses: tuple[str, ...] = (LISTEN_ADDRESS,), namespace: str = DEFAULT_NAMESPACE):
    """A Forwarder into the pod `reference` names in `namespace` (NAME, pod/NAME, deploy/NAME, svc/NAME...) for the
    ports `specs`, and the follow callback for its serve(); with svc/NAME, REMOTE is the Service's
    port (number or name), sent to its target port on the chosen pod, as kubectl does."""
    from kubeplay.pods.status import reconcile_pod
    from kubeplay.pods.targets import resolve_pod, split_reference

    pairs = parse_port_pairs(specs)
    kind, name = split_reference(reference)
    pod = reconcile_pod(engine.store, engine.settings, resolve_pod(engine, reference, namespace))
    if pod.phase is not PodPhase.RUNNING:
        raise ConflictError(f'pod "{pod.shown_name}" is not running ({pod.phase.value})',
                            hint=f"start it with `kubeplay pod start {pod_arguments(pod.namespace, pod.shown_name)}`")
    service = _service(engine, namespace, name) if kind == "Service" else None
    forwarder = Forwarder(route_to(engine, pod, service, pairs), [pair.local for pair in pairs], report, addresses)
    return forwarder, RouteFollower(engine, pairs, service, notice)


def _service(engine, namespace: str, name: str):
    from kubeplay.store.services import ServiceStore

    return ServiceStore(engine.db).find(namespace, name)  # resolve_pod found it


def route_to(engine, pod: PodRecord, service, pairs: list[PortPair]) -> Route:
    """The Route into `pod` for `pairs` (through `service`'s ports when it is not None)."""
    from kubeplay.pods.handlers import pod_target
    from kubeplay.pods.portforward import remote_port

    remotes = tuple(remote_port(pod, service, pair.remote) for pair in pairs)
    return Route(pod.name, pod.id, pod_target(engine.settings, pod, "").netns, remotes)

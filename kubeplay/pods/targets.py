"""Which pod and container a kubectl-style verb means: `NAME`, `pod/NAME`, `deploy/NAME`,
`job/NAME`, `svc/NAME` (a pod of the workload or Service), `-l selector`; and the default container
(the `kubectl.kubernetes.io/default-container` annotation, else the first)."""

from __future__ import annotations

from collections.abc import Callable

from kubeplay.errors import NotFoundError, UserError
from kubeplay.model.record import ContainerRecord, ContainerRole, PodPhase, PodRecord
from kubeplay.names import DEFAULT_NAMESPACE
from kubeplay.pods.engine import Engine

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
# the forms kubectl accepts for each kind a pod can be reached through
KINDS = {
    "pod": "Pod", "pods": "Pod", "po": "Pod",
    "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
    "replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
    "daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
    "job": "Job", "jobs": "Job",
    "service": "Service", "services": "Service", "svc": "Service",
}
KIND_HINT = "write NAME, pod/NAME, deploy/NAME, rs/NAME, ds/NAME, job/NAME or svc/NAME"


def split_reference(reference: str) -> tuple[str, str]:
    """(kind, name) of `TYPE/NAME`, or ("Pod", NAME)."""
    if "/" not in reference:
        return "Pod", reference
    kind, _, name = reference.partition("/")
    if kind.lower() not in KINDS or not name:
        raise UserError(f'cannot tell what "{reference}" names: unknown type "{kind}"', hint=KIND_HINT)
    return KINDS[kind.lower()], name


def resolve_pod(engine: Engine, reference: str, namespace: str = DEFAULT_NAMESPACE) -> PodRecord:
    """The pod `reference` means in `namespace`; for a workload or a Service, one of its pods (a
    running one first, then by name), as `kubectl logs deploy/web` picks one."""
    kind, name = split_reference(reference)
    if kind == "Pod":
        return engine.store.named_pod(namespace, name)
    candidates = pods_of(engine, kind, name, namespace)
    if not candidates:
        raise NotFoundError(f'{kind.lower()} "{name}" has no pods in namespace {namespace}',
                            hint="`kubeplay pods -A` lists the pods of every namespace; -n NS names the namespace")
    return choose_pod(candidates)


def choose_pod(pods: list[PodRecord]) -> PodRecord:
    """A running pod before any other, then the oldest, then by name."""
    return sorted(pods, key=lambda p: (p.phase is not PodPhase.RUNNING, p.created_at, p.name))[0]


def pods_of(engine: Engine, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE) -> list[PodRecord]:
    """The stored pods of a workload of `namespace`, or the pods a Service of it selects."""
    pods = [pod for pod in engine.store.list_pods() if pod.namespace == namespace]
    if kind == "Service":
        from kubeplay.model.endpoints import selected_pods
        from kubeplay.store.services import ServiceStore

        record = ServiceStore(engine.db).find(namespace, name)
        if record is None:
            raise NotFoundError(f'service "{name}" not found in namespace {namespace}',
                                hint="`kubeplay services -A` lists the Services of every namespace")
        return selected_pods(record, pods)
    return [pod for pod in pods if pod.plan.owner is not None and (
        (pod.plan.owner.kind == kind and pod.plan.owner.name == name)
        or (kind == "ReplicaSet" and pod.plan.owner.kind == "Deployment"  # rs/<deployment>-<hash>, as `get rs` lists
            and f"{pod.plan.owner.name}-{pod.plan.labels.get('pod-template-hash')}" == name))]


def pods_matching(engine: Engine, selector_text: str, namespace: str | None = DEFAULT_NAMESPACE) -> list[PodRecord]:
    """The stored pods of `namespace` (None: of every one) whose labels the selector matches, by
    namespace and name."""
    from kubeplay.model.selector import parse_selector

    selector = parse_selector(selector_text)
    return sorted((pod for pod in engine.store.list_pods()
                   if (namespace is None or pod.namespace == namespace) and selector.matches(pod.plan.labels)),
                  key=lambda pod: (pod.namespace, pod.shown_name))


def default_container(pod: PodRecord, name: str | None,
                      notice: Callable[[str], None] | None = None) -> ContainerRecord:
    """The container `name` of the pod (init containers included), or the default one: the annotated
    one, else the first. When the pod has several, `notice` is told which was taken, as kubectl says."""
    candidates = [c for c in pod.containers if c.role is not ContainerRole.INFRA]
    if name:
        for container in candidates:
            if container.name == name:
                return container
        raise NotFoundError(f'container "{name}" is not in pod "{pod.shown_name}"',
                            hint="choose one of: " + ", ".join(c.name for c in candidates))
    members = [c for c in candidates if c.role is ContainerRole.MEMBER]
    if not members:
        raise NotFoundError(f'pod "{pod.shown_name}" has no containers', hint="play it again from its manifest")
    wanted = pod.plan.annotations.get(DEFAULT_CONTAINER_ANNOTATION, "")
    chosen = next((c for c in members if c.name == wanted), members[0])
    if len(candidates) > 1 and notice is not None and chosen.name != wanted:
        names = [c.name + (" (init)" if c.role is ContainerRole.INIT else "") for c in candidates]
        notice(f'Defaulted container "{chosen.name}" out of: {", ".join(names)}')
    return chosen

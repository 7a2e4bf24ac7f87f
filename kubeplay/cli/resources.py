"""The kinds `kubeplay get` and `describe` know, read from the store as items: a name, a namespace,
labels, the columns of their table (and of `-o wide`), and their Kubernetes-shaped object, built
only when asked for (`-o yaml|json|jsonpath`).

Deployments are stored (with their pods' owner as a fallback: `deployments()`); ConfigMaps and
Secrets are derived from what the stored pod plans read of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubeplay.errors import UserError

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Kind:
    name: str  # plural, as `kubectl get` names it: pods
    singular: str  # as `-o name` prints it, with the API group as kubectl: pod, deployment.apps
    aliases: tuple[str, ...]
    headers: tuple[str, ...]
    wide_headers: tuple[str, ...] = ()


KINDS = {kind.name: kind for kind in (
    Kind("pods", "pod", ("po", "pod"), ("NAME", "READY", "STATUS", "RESTARTS", "AGE"), ("IP", "NODE")),
    Kind("deployments", "deployment.apps", ("deploy", "deployment"),
         ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"),
         ("CONTAINERS", "IMAGES", "SELECTOR")),
    Kind("daemonsets", "daemonset.apps", ("ds", "daemonset"),
         ("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"),
         ("CONTAINERS", "IMAGES", "SELECTOR")),
    Kind("replicasets", "replicaset.apps", ("rs", "replicaset"), ("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
         ("CONTAINERS", "IMAGES", "SELECTOR")),
    Kind("services", "service", ("svc", "service"), ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"),
         ("SELECTOR",)),
    Kind("jobs", "job.batch", ("job",), ("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"), ("CONTAINERS", "IMAGES")),
    Kind("configmaps", "configmap", ("cm", "configmap"), ("NAME", "DATA", "AGE")),
    Kind("secrets", "secret", ("secret",), ("NAME", "TYPE", "DATA", "AGE")),
    Kind("events", "event", ("ev", "event"), ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")),
    Kind("persistentvolumeclaims", "persistentvolumeclaim", ("pvc", "persistentvolumeclaim"),
         ("NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE")),
)}
# what `get all` lists, in kubectl's order of its "all" category
ALL = ("pods", "services", "daemonsets", "deployments", "replicasets", "jobs")


def kind_named(text: str) -> Kind:
    """The kind a user wrote (plural, singular or short name, any case)."""
    lowered = text.lower()
    for kind in KINDS.values():
        if lowered == kind.name or lowered in kind.aliases:
            return kind
    raise UserError(f'unknown resource type "{text}"', hint=known_types())


def known_types() -> str:
    known = ", ".join(f"{kind.name} ({'/'.join(kind.aliases)})" for kind in KINDS.values())
    return f"known types: {known}, all"


@dataclass
class Item:
    kind: Kind
    name: str
    namespace: str
    labels: dict[str, str]
    created: float | None
    cells: dict[str, object]  # header -> value; AGE is filled in when shown
    build: Callable[[], dict] = field(repr=False, default=lambda: {})

    @property
    def ref(self) -> str:
        return f"{self.kind.singular}/{self.name}"

    def row(self, wide: bool, now: float) -> list[object]:
        from kubeplay.cli.render import age

        headers = self.kind.headers + (self.kind.wide_headers if wide else ())
        # times are shown as ages when printed, so that a row under -w changes only when the object does
        return [age(self.created, now) if header in ("AGE", "LAST SEEN") else self.cells.get(header, "<none>")
                for header in headers]


class Store:
    """The store as `get` reads it: each table read once per command, whatever kinds are listed."""

    def __init__(self, settings) -> None:
        from kubeplay.pods.engine import Engine

        self.engine = Engine(settings)
        self._overviews = None
        self._pods = None

    def overviews(self) -> list:
        """Every pod's PodOverview (no plan decoded), reconciled with what runs now, oldest first:
        all that a table of pods shows."""
        if self._overviews is None:
            from kubeplay.pods.status import reconciled_overviews

            self._overviews = reconciled_overviews(self.engine.store, self.engine.settings)
        return self._overviews

    def pods(self) -> list:
        """Every PodRecord (plans decoded), reconciled with what runs now, oldest first."""
        if self._pods is None:
            self.overviews()  # reconciled in one batch first
            self._pods = self.engine.store.list_pods()
        return self._pods

    def pod(self, key: str):
        return next(record for record in self.pods() if record.name == key)

    def items(self, kind: Kind) -> list[Item]:
        return READERS[kind.name](self)


# --- pods ---------------------------------------------------------------------------------------------


def ready_text(pod) -> str:
    """READY: ready members of all members; a member still being made counts as not ready (never 0/0)."""
    from kubeplay.controllers.readiness import ready_count

    ready, total = ready_count(pod)
    return f"{ready}/{max(total, pod.planned_members)}"


def _pod_items(store: Store) -> list[Item]:
    from kubeplay.defaults import node_name
    from kubeplay.model.record import ContainerRole
    from kubeplay.pods.status import display_status

    kind = KINDS["pods"]
    items = []
    for pod in store.overviews():
        restarts = sum(c.restart_count for c in pod.containers if c.role is ContainerRole.MEMBER)
        cells = {"NAME": pod.name, "READY": ready_text(pod), "STATUS": display_status(pod),
                 "RESTARTS": restarts, "IP": pod.ip or "<none>", "NODE": node_name()}
        items.append(Item(kind, pod.name, pod.namespace, dict(pod.labels), pod.created_at, cells,
                          lambda key=pod.key: pod_object(store, store.pod(key))))
    return items


def pod_object(store: Store, record) -> dict:
    from kubeplay.cli.podstatus import pod_status
    from kubeplay.generate.live import pod_object as build

    return build(record.plan, record.id, record.created_at, pod_status(record, store.engine.store.image_id))


# --- deployments --------------------------------------------------------------------------------------


@dataclass
class Deployment:
    """A Deployment: as stored (its template and replicas, even at replicas: 0), with its pods."""

    name: str
    namespace: str
    replicas: int
    pods: list = field(default_factory=list)
    stored_template: object = None  # the stored DeploymentPlan's template; None: known from its pods only
    stored_at: float | None = None

    @property
    def template(self):
        if self.stored_template is not None:
            return self.stored_template
        return self.pods[0].plan

    @property
    def created(self) -> float:
        if self.stored_at is not None:
            return self.stored_at
        return min(pod.created_at for pod in self.pods)


def deployments(store: Store) -> list[Deployment]:
    """The Deployments of the store: those stored (play and apply record them), with the pods they
    own; and any whose pods alone tell of them (played by an earlier version)."""
    from kubeplay.store.deployments import DeploymentStore

    found: dict[tuple[str, str], Deployment] = {}
    for record in DeploymentStore(store.engine.db).list():
        plan = record.plan
        found[(plan.namespace, plan.name)] = Deployment(plan.name, plan.namespace, plan.replicas,
                                                        stored_template=plan.template, stored_at=record.created_at)
    for record in store.pods():
        owner = record.plan.owner
        if owner is None or owner.kind != "Deployment":
            continue
        key = (record.namespace, owner.name)
        found.setdefault(key, Deployment(owner.name, record.namespace, owner.replicas)).pods.append(record)
    return sorted(found.values(), key=lambda d: (d.namespace, d.name))


def _deployment_items(store: Store) -> list[Item]:
    from kubeplay.controllers.readiness import is_ready

    kind = KINDS["deployments"]
    items = []
    for deployment in deployments(store):
        ready = sum(1 for pod in deployment.pods if is_ready(pod))
        plan = deployment.template
        labels = {k: v for k, v in plan.labels.items() if k != "pod-template-hash"}
        cells = {"NAME": deployment.name, "READY": f"{ready}/{deployment.replicas}",
                 "UP-TO-DATE": len(deployment.pods), "AVAILABLE": ready,
                 "CONTAINERS": ",".join(c.name for c in plan.containers),
                 "IMAGES": ",".join(c.image for c in plan.containers),
                 "SELECTOR": ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"}
        items.append(Item(kind, deployment.name, deployment.namespace, (dict(plan.owner.labels) if plan.owner else {}) or labels,
                          deployment.created, cells,
                          lambda deployment=deployment, ready=ready: deployment_object(deployment, ready)))
    return items


def deployment_object(deployment: Deployment, ready: int) -> dict:
    from kubeplay.generate.live import rfc3339, workload_object

    available = ready >= deployment.replicas
    since = rfc3339(deployment.created)
    status = {"observedGeneration": 1, "replicas": len(deployment.pods), "updatedReplicas": len(deployment.pods),
              "readyReplicas": ready, "availableReplicas": ready,
              "unavailableReplicas": max(deployment.replicas - ready, 0) or None,
              "conditions": [{"type": "Available", "status": "True" if available else "False",
                              "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                              "lastUpdateTime": since, "lastTransitionTime": since}]}
    return workload_object("Deployment", deployment.name, deployment.namespace, deployment.created,
                           deployment.template, deployment.replicas,
                           {key: value for key, value in status.items() if value is not None})


def _replicaset_items(store: Store) -> list[Item]:
    from kubeplay.cli.replicasets import own_labels, played_replicasets, replicaset_object, replicasets
    from kubeplay.controllers.readiness import is_ready

    kind = KINDS["replicasets"]
    items = []
    for rs in replicasets(store.engine.db, deployments(store)) + played_replicasets(store.pods()):
        ready = sum(1 for pod in rs.pods if is_ready(pod))
        plan = rs.template
        labels = own_labels(rs, plan.labels)
        cells = {"NAME": rs.name, "DESIRED": rs.desired, "CURRENT": len(rs.pods), "READY": ready,
                 "CONTAINERS": ",".join(c.name for c in plan.containers),
                 "IMAGES": ",".join(c.image for c in plan.containers),
                 "SELECTOR": ",".join(f"{k}={v}" for k, v in labels.items())}
        items.append(Item(kind, rs.name, rs.namespace, labels, rs.created, cells,
                          lambda rs=rs, ready=ready: replicaset_object(rs, ready)))
    return items


def _daemonset_items(store: Store) -> list[Item]:
    """DaemonSets, known from their pods: on this one node, one pod each."""
    from kubeplay.controllers.readiness import is_ready
    from kubeplay.generate.live import workload_object

    kind = KINDS["daemonsets"]
    found: dict[tuple[str, str], list] = {}
    for pod in store.pods():
        owner = pod.plan.owner
        if owner is not None and owner.kind == "DaemonSet":
            found.setdefault((pod.namespace, owner.name), []).append(pod)
    items = []
    for (namespace, name), pods in sorted(found.items()):
        ready = sum(1 for pod in pods if is_ready(pod))
        plan = pods[0].plan
        labels = dict(plan.owner.labels) if plan.owner else {}
        selector = dict(plan.labels)
        cells = {"NAME": name, "DESIRED": 1, "CURRENT": len(pods), "READY": ready, "UP-TO-DATE": len(pods),
                 "AVAILABLE": ready, "NODE SELECTOR": "<none>",  # one node: nodeSelector is not kept
                 "CONTAINERS": ",".join(c.name for c in plan.containers),
                 "IMAGES": ",".join(c.image for c in plan.containers),
                 "SELECTOR": ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"}
        status = {"desiredNumberScheduled": 1, "currentNumberScheduled": len(pods), "numberReady": ready,
                  "updatedNumberScheduled": len(pods), "numberAvailable": ready or None, "numberMisscheduled": 0,
                  "observedGeneration": 1}
        created = min(pod.created_at for pod in pods)
        items.append(Item(kind, name, namespace, labels, created, cells,
                          lambda name=name, namespace=namespace, created=created, plan=plan, status=status:
                          workload_object("DaemonSet", name, namespace, created, plan, 1,
                                          {k: v for k, v in status.items() if v is not None})))
    return items


# --- services -----------------------------------------------------------------------------------------


def _service_items(store: Store) -> list[Item]:
    from kubeplay.store.services import ServiceStore

    kind = KINDS["services"]
    items = []
    for record in ServiceStore(store.engine.db).list():
        ports = ",".join(port.describe() for port in record.ports) or "<none>"
        external = "<pending>" if record.type == "LoadBalancer" else "<none>"
        cells = {"NAME": record.name, "TYPE": record.type, "CLUSTER-IP": record.cluster_ip or "None",
                 "EXTERNAL-IP": external, "PORT(S)": ports,
                 "SELECTOR": ",".join(f"{k}={v}" for k, v in record.plan.selector.items()) or "<none>"}
        items.append(Item(kind, record.name, record.namespace, dict(record.plan.labels), record.created_at, cells,
                          lambda record=record: _service_object(record)))
    return items


def _service_object(record) -> dict:
    from kubeplay.generate.live import service_object

    return service_object(record)


# --- jobs ---------------------------------------------------------------------------------------------


def _job_items(store: Store) -> list[Item]:
    from kubeplay.cli.jobs import duration
    from kubeplay.controllers.jobs import list_jobs

    kind = KINDS["jobs"]
    by_key = {(pod.namespace, pod.plan.owner.name): pod for pod in store.pods()
              if pod.plan.owner is not None and pod.plan.owner.kind == "Job"}
    now = time.time()
    items = []
    for status in list_jobs(store.engine):
        template = by_key.get((status.namespace, status.name))
        plan = template.plan if template else None
        cells = {"NAME": status.name, "STATUS": status.state, "COMPLETIONS": status.completions_text,
                 "DURATION": duration((status.finished_at or now) - status.started_at),
                 "CONTAINERS": ",".join(c.name for c in plan.containers) if plan else "<none>",
                 "IMAGES": ",".join(c.image for c in plan.containers) if plan else "<none>"}
        labels = dict(plan.owner.labels) if plan and plan.owner else {}
        items.append(Item(kind, status.name, status.namespace, labels, status.started_at, cells,
                          lambda status=status, plan=plan: job_object(status, plan)))
    return items


def job_object(status, plan) -> dict:
    from kubeplay.generate.live import live_metadata, plain_object, rfc3339, workload_object

    body = {"active": status.active or None, "succeeded": status.succeeded or None, "failed": status.failed or None,
            "startTime": rfc3339(status.started_at),
            "completionTime": rfc3339(status.finished_at) if status.state == "Complete" else None}
    if status.state in ("Complete", "Failed"):
        body["conditions"] = [{"type": status.state, "status": "True", "reason": status.reason or None,
                               "lastTransitionTime": rfc3339(status.finished_at)}]
    body = {key: value for key, value in body.items() if value is not None}
    if plan is None:
        return plain_object("Job", live_metadata(status.name, status.namespace, status.uid, status.started_at),
                            status=body)
    return workload_object("Job", status.name, status.namespace, status.started_at, plan, 1, body)


# --- ConfigMaps and Secrets -----------------------------------------------------------------------------


def _data_items(store: Store, kind_name: str) -> list[Item]:
    from kubeplay.generate.data import DataObjects

    data = DataObjects()
    first_use: dict[tuple[str, str], float] = {}
    for pod in store.pods():
        data.add_pod(pod.plan)
    kind_title = "ConfigMap" if kind_name == "configmaps" else "Secret"
    kind = KINDS[kind_name]
    for pod in store.pods():
        for obj in data.objects.values():
            if obj.namespace == pod.namespace:
                first_use.setdefault((obj.namespace, obj.name), pod.created_at)
    items = []
    for obj, body in data.documents(kind_title):
        count = len(obj.values)
        cells = {"NAME": obj.name, "DATA": count, "TYPE": "Opaque"}
        items.append(Item(kind, obj.name, obj.namespace, {}, first_use.get((obj.namespace, obj.name)), cells,
                          lambda obj=obj, body=body, kind_title=kind_title: _data_object(kind_title, obj, body)))
    return items


def _data_object(kind: str, obj, body: dict) -> dict:
    from kubeplay.generate.live import live_metadata, plain_object

    extra = {"type": "Opaque"} if kind == "Secret" else {}
    return plain_object(kind, live_metadata(obj.name, obj.namespace, "", None), **body, **extra)


# --- claims -------------------------------------------------------------------------------------------


def _claim_items(store: Store) -> list[Item]:
    from kubeplay.store.volumes import VolumeStore

    kind = KINDS["persistentvolumeclaims"]
    namespaces = {volume.claim_name: pod.namespace for pod in store.pods() for volume in pod.plan.volumes
                  if volume.kind == "persistentVolumeClaim"}
    items = []
    for volume in VolumeStore(store.engine.db).list():
        spec = volume.spec or {}
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "")
        modes = ",".join(_MODE_SHORT.get(mode, mode) for mode in spec.get("accessModes") or ["ReadWriteOnce"])
        cells = {"NAME": volume.name, "STATUS": "Bound", "VOLUME": volume.name, "CAPACITY": size,
                 "ACCESS MODES": modes, "STORAGECLASS": spec.get("storageClassName") or "<unset>"}
        namespace = namespaces.get(volume.name, DEFAULT_NAMESPACE)
        items.append(Item(kind, volume.name, namespace, dict(volume.labels), volume.created_at, cells,
                          lambda volume=volume, namespace=namespace: _claim_object(volume, namespace)))
    return items


_MODE_SHORT = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _claim_object(volume, namespace: str) -> dict:
    from kubeplay.generate.live import live_metadata, plain_object

    spec = {"accessModes": ["ReadWriteOnce"], **(volume.spec or {}), "volumeName": volume.name}
    return plain_object("PersistentVolumeClaim",
                        live_metadata(volume.name, namespace, "", volume.created_at, labels=dict(volume.labels) or None),
                        spec=spec, status={"phase": "Bound", "accessModes": spec["accessModes"]})


# --- events -------------------------------------------------------------------------------------------


def _event_items(store: Store) -> list[Item]:
    """The pods' events, as `kubectl get events` lists them (created: when last seen)."""
    from kubeplay.store.events import EventStore

    kind = KINDS["events"]
    namespaces = {pod.name: pod.namespace for pod in store.overviews()}
    items = []
    for event in sorted(EventStore(store.engine.db).list(), key=lambda e: e.last_at):
        name = f"{event.pod}.{int(event.first_at * 1e9):x}"  # <object>.<unique>, as Kubernetes names events
        target = f"pod/{event.pod}"
        cells = {"TYPE": event.type, "REASON": event.reason, "MESSAGE": event.message, "OBJECT": target,
                 "COUNT": event.count}
        namespace = namespaces.get(event.pod, DEFAULT_NAMESPACE)
        items.append(Item(kind, name, namespace, {}, event.last_at, cells,
                          lambda event=event, name=name, namespace=namespace: _event_object(event, name, namespace)))
    return items


def _event_object(event, name: str, namespace: str) -> dict:
    """A core/v1 Event, written out here: the schema kubeplay checks generated objects with has no Event."""
    from kubeplay.generate.live import live_metadata, rfc3339

    involved = {"apiVersion": "v1", "kind": "Pod", "name": event.pod, "namespace": namespace}
    if event.container:
        involved["fieldPath"] = f"spec.containers{{{event.container}}}"
    return {"apiVersion": "v1", "kind": "Event", "metadata": live_metadata(name, namespace, "", event.first_at),
            "involvedObject": involved, "reason": event.reason, "message": event.message, "type": event.type,
            "count": event.count, "firstTimestamp": rfc3339(event.first_at),
            "lastTimestamp": rfc3339(event.last_at), "source": {"component": "kubeplay"}}


READERS: dict[str, Callable[[Store], list[Item]]] = {
    "pods": _pod_items,
    "deployments": _deployment_items,
    "replicasets": _replicaset_items,
    "daemonsets": _daemonset_items,
    "services": _service_items,
    "jobs": _job_items,
    "configmaps": lambda store: _data_items(store, "configmaps"),
    "secrets": lambda store: _data_items(store, "secrets"),
    "persistentvolumeclaims": _claim_items,
    "events": _event_items,
}

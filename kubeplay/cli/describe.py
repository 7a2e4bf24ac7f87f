"""`kubeplay describe pod|deploy|svc NAME...`: an object in kubectl's describe layout, read from the
same Kubernetes-shaped object `get -o yaml` prints, ending with its Events."""

from __future__ import annotations

import time

import click

from kubeplay.cli.options import resolve_namespace
from kubeplay.config import Settings
from kubeplay.errors import UserError
from kubeplay.cli.completion import complete_targets

DESCRIBED = ("pods", "deployments", "replicasets", "services")


@click.command()
@click.argument("type_name", metavar="TYPE", shell_complete=complete_targets)
@click.argument("names", nargs=-1, shell_complete=complete_targets)
@click.option("-n", "--namespace", default=None, metavar="NS", help="The objects' namespace (default: default).")
@click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="Look for the names in every namespace.")
@click.option("-l", "--selector", default=None, help="Describe every object whose labels match, as `get -l`.")
@click.pass_obj
def describe(settings: Settings, type_name: str, names: tuple[str, ...], namespace: str | None,
             all_namespaces: bool, selector: str | None) -> None:
    """Describe pods, deployments, replicasets or services (TYPE/NAME works too), ending with their events.

    \b
    kubeplay describe pod web
    kubeplay describe deploy/web
    """
    from kubeplay.cli.get import parse_targets, select
    from kubeplay.cli.resources import Store
    from kubeplay.model.selector import parse_selector

    targets = (type_name, *names)
    request = parse_targets(targets)
    for kind in request.kinds:
        if kind.name not in DESCRIBED:
            raise UserError(f"describe knows pods, deployments, replicasets and services, not {kind.name}",
                            hint=f"`kubeplay get {kind.name} NAME -o yaml` shows the whole object")
    if not any(request.names.values()) and selector is None:
        raise UserError("describe needs a NAME (or -l SELECTOR)", hint=f"kubeplay describe {type_name} NAME")
    store = Store(settings)
    items = select(store, request, parse_selector(selector), resolve_namespace(namespace, all_namespaces))
    for index, item in enumerate(items):
        if index:
            click.echo("\n")
        click.echo(DESCRIBERS[item.kind.name](store, item), nl=False)


class Layout:
    """kubectl's describe text: `Key:  value` lines whose values line up within each block of one indent."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str, str | None]] = []  # (indent, key, value); None: a heading

    def add(self, key: str, value: object = "", indent: int = 0) -> None:
        self.lines.append((indent, key, "<none>" if value in (None, "") else str(value)))

    def heading(self, key: str, indent: int = 0) -> None:
        self.lines.append((indent, key, None))

    def mapping(self, key: str, values: dict | None, indent: int = 0) -> None:
        """Labels: app=web, one per line under the first."""
        pairs = [f"{k}={v}" for k, v in (values or {}).items()]
        self.add(key, pairs[0] if pairs else "<none>", indent)
        for pair in pairs[1:]:
            self.lines.append((indent, "", pair))

    def raw(self, text: str) -> None:
        self.lines.append((0, text, None))

    def text(self) -> str:
        out = []
        for index, (indent, key, value) in enumerate(self.lines):
            pad = " " * indent
            if value is None:  # a heading (written with its colon) or a line of its own
                out.append(f"{pad}{key}")
            else:
                label = f"{key}:" if key else ""
                out.append(f"{pad}{label.ljust(self._width(index))}  {value}".rstrip())
        return "\n".join(out) + "\n"

    def _width(self, index: int) -> int:
        """The widest key among the lines of this indent under the same parent, as kubectl's tabwriter aligns."""
        indent = self.lines[index][0]
        start = index
        while start > 0 and self.lines[start - 1][0] >= indent:
            start -= 1
        end = index
        while end + 1 < len(self.lines) and self.lines[end + 1][0] >= indent:
            end += 1
        return max(len(key) + 1 for level, key, value in self.lines[start:end + 1]
                   if level == indent and value is not None and key)


def when(seconds_or_text: object) -> str:
    """kubectl's describe time: Sun, 06 Dec 2026 09:10:11 +0000."""
    from datetime import datetime

    if seconds_or_text in (None, ""):
        return "<unknown>"
    if isinstance(seconds_or_text, str):
        moment = datetime.fromisoformat(seconds_or_text).astimezone()
    else:
        moment = datetime.fromtimestamp(float(seconds_or_text)).astimezone()
    return moment.strftime("%a, %d %b %Y %H:%M:%S %z")


def events_text(events: list) -> str:
    from kubeplay.cli.render import age

    if not events:
        return "Events:  <none>\n"
    now = time.time()
    rows = [("Type", "Reason", "Age", "From", "Message"), ("----", "------", "----", "----", "-------")]
    for event in events:
        seen = age(event.last_at, now) if event.count == 1 else \
            f"{age(event.last_at, now)} (x{event.count} over {age(event.first_at, now)})"
        source = f"kubeplay/{event.container}" if event.container else "kubeplay"
        rows.append((event.type, event.reason, seen, source, event.message))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]
    return "Events:\n" + "\n".join(line.rstrip() for line in lines) + "\n"


def _state_lines(layout: Layout, title: str, state: dict, indent: int) -> None:
    if not state:
        return
    kind, details = next(iter(state.items()))
    layout.add(title, kind.capitalize(), indent)
    for key, label in (("reason", "Reason"), ("message", "Message"), ("exitCode", "Exit Code"),
                       ("startedAt", "Started"), ("finishedAt", "Finished")):
        if key in details:
            value = details[key]
            layout.add(label, when(value) if key.endswith("At") else value, indent + 2)


def _pod_template_lines(layout, template: dict) -> None:
    """A workload's Pod Template: its labels, containers and volumes, as kubectl describes them."""
    layout.heading("Pod Template:")
    layout.mapping("Labels", (template.get("metadata") or {}).get("labels"), 2)
    layout.heading("Containers:", 2)
    for container in (template.get("spec") or {}).get("containers") or []:
        _container_lines(layout, container, None, 3)
    _volume_lines(layout, (template.get("spec") or {}).get("volumes") or [], 2)


def _container_lines(layout: Layout, container: dict, status: dict | None, indent: int) -> None:
    layout.heading(f"{container['name']}:", indent)
    inner = indent + 2
    if status:
        layout.add("Container ID", status.get("containerID"), inner)
    layout.add("Image", container.get("image"), inner)
    if status:
        layout.add("Image ID", status.get("imageID"), inner)
    ports = container.get("ports") or []
    layout.add("Port" + ("s" if len(ports) > 1 else ""),
               ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>", inner)
    host_ports = [p for p in ports if p.get("hostPort")]
    layout.add("Host Port" + ("s" if len(host_ports) > 1 else ""),
               ", ".join(f"{p['hostPort']}/{p.get('protocol', 'TCP')}" for p in host_ports) or "<none>", inner)
    for key, label in (("command", "Command"), ("args", "Args")):
        if container.get(key):
            layout.heading(f"{label}:", inner)
            for word in container[key]:
                layout.lines.append((inner + 2, word, None))
    if status:
        _state_lines(layout, "State", status.get("state") or {}, inner)
        _state_lines(layout, "Last State", status.get("lastState") or {}, inner)
        layout.add("Ready", "True" if status.get("ready") else "False", inner)
        layout.add("Restart Count", status.get("restartCount", 0), inner)
    resources = container.get("resources") or {}
    for key, label in (("limits", "Limits"), ("requests", "Requests")):
        if resources.get(key):
            layout.heading(f"{label}:", inner)
            for name, value in resources[key].items():
                layout.add(name, value, inner + 2)
    for key, label in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"), ("startupProbe", "Startup")):
        if container.get(key):
            layout.add(label, _probe_text(container[key]), inner)
    env = container.get("env") or []
    if env:
        layout.heading("Environment:", inner)
        for var in env:
            layout.add(var["name"], var.get("value", _reference_text(var.get("valueFrom") or {})), inner + 2)
    else:
        layout.add("Environment", "<none>", inner)
    mounts = container.get("volumeMounts") or []
    if mounts:
        layout.heading("Mounts:", inner)
        for mount in mounts:
            layout.lines.append((inner + 2, f"{mount['mountPath']} from {mount['name']} "
                                            f"({'ro' if mount.get('readOnly') else 'rw'})", None))
    else:
        layout.add("Mounts", "<none>", inner)


def _probe_text(probe: dict) -> str:
    if "httpGet" in probe:
        get = probe["httpGet"]
        action = f"http-get {get.get('scheme', 'HTTP').lower()}://{get.get('host', '')}:{get.get('port')}{get.get('path', '/')}"
    elif "tcpSocket" in probe:
        action = f"tcp-socket :{probe['tcpSocket'].get('port')}"
    elif "exec" in probe:
        action = "exec [" + " ".join(probe["exec"].get("command") or []) + "]"
    else:
        action = next(iter(k for k in probe if isinstance(probe[k], dict)), "probe")
    return (f"{action} delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
            f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")


def _reference_text(source: dict) -> str:
    for key, word in (("configMapKeyRef", "config map"), ("secretKeyRef", "secret")):
        if key in source:
            ref = source[key]
            return f"<set to the key '{ref.get('key')}' of {word} '{ref.get('name')}'>"
    if "fieldRef" in source:
        return f"({source['fieldRef'].get('apiVersion', 'v1')}:{source['fieldRef'].get('fieldPath')})"
    return "<set>"


def _volume_lines(layout: Layout, volumes: list[dict], indent: int = 0) -> None:
    if not volumes:
        layout.add("Volumes", "<none>", indent)
        return
    layout.heading("Volumes:", indent)
    for volume in volumes:
        layout.heading(f"{volume['name']}:", indent + 2)
        kind = next((key for key in volume if key != "name"), "")
        source = volume.get(kind) or {}
        layout.add("Type", kind[0].upper() + kind[1:] if kind else "<unknown>", indent + 4)
        for key, value in source.items():
            if not isinstance(value, (dict, list)):
                layout.add(key[0].upper() + key[1:], value, indent + 4)


def describe_pod(store, item) -> str:
    from kubeplay.store.events import EventStore

    obj = item.build()
    meta, spec, status = obj["metadata"], obj["spec"], obj.get("status") or {}
    layout = Layout()
    layout.add("Name", meta["name"])
    layout.add("Namespace", meta.get("namespace", "default"))
    layout.add("Service Account", spec.get("serviceAccountName", "default"))
    layout.add("Node", spec.get("nodeName"))
    layout.add("Start Time", when(status.get("startTime")))
    layout.mapping("Labels", meta.get("labels"))
    layout.mapping("Annotations", meta.get("annotations"))
    layout.add("Status", item.cells["STATUS"])
    if status.get("reason"):
        layout.add("Reason", status["reason"])
    layout.add("IP", status.get("podIP"))
    owners = meta.get("ownerReferences") or []
    if owners:
        layout.add("Controlled By", f"{owners[0]['kind']}/{owners[0]['name']}")
    by_name = {s["name"]: s for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])}
    for key, title in (("initContainers", "Init Containers"), ("containers", "Containers")):
        if spec.get(key):
            layout.heading(f"{title}:")
            for container in spec[key]:
                _container_lines(layout, container, by_name.get(container["name"]), 2)
    conditions = status.get("conditions") or []
    layout.heading("Conditions:")
    width = max([len("Type")] + [len(c["type"]) for c in conditions])
    layout.raw(f"  {'Type'.ljust(width)}  Status")
    for condition in conditions:
        layout.raw(f"  {condition['type'].ljust(width)}  {condition['status']}")
    _volume_lines(layout, spec.get("volumes") or [])
    layout.add("QoS Class", status.get("qosClass"))
    layout.mapping("Node-Selectors", spec.get("nodeSelector"))
    from kubeplay.names import pod_key

    events = EventStore(store.engine.db).list(pod_key(item.namespace, item.name))
    return layout.text() + events_text(events)


def describe_deployment(store, item) -> str:
    from kubeplay.cli.resources import deployments
    from kubeplay.store.events import EventStore

    obj = item.build()
    meta, spec, status = obj["metadata"], obj["spec"], obj.get("status") or {}
    layout = Layout()
    layout.add("Name", meta["name"])
    layout.add("Namespace", meta.get("namespace", "default"))
    layout.add("CreationTimestamp", when(meta.get("creationTimestamp")))
    layout.mapping("Labels", meta.get("labels"))
    layout.mapping("Annotations", meta.get("annotations"))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    layout.add("Selector", ",".join(f"{k}={v}" for k, v in selector.items()))
    layout.add("Replicas", f"{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
                           f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
                           f"{status.get('unavailableReplicas', 0)} unavailable")
    layout.add("StrategyType", (spec.get("strategy") or {}).get("type", "RollingUpdate"))
    _pod_template_lines(layout, spec.get("template") or {})
    layout.heading("Conditions:")
    layout.raw("  Type           Status  Reason")
    layout.raw("  ----           ------  ------")
    for condition in status.get("conditions") or []:
        layout.raw(f"  {condition['type'].ljust(13)}  {condition['status'].ljust(6)}  {condition.get('reason', '')}")
    found = next(d for d in deployments(store) if d.name == item.name and d.namespace == item.namespace)
    layout.add("Pods", ", ".join(f"{pod.shown_name} ({_pod_state(pod)})" for pod in found.pods) or "<none>")
    events = EventStore(store.engine.db)
    listed = sorted((event for pod in found.pods for event in events.list(pod.name)), key=lambda e: e.last_at)
    return layout.text() + events_text([_with_pod(event) for event in listed])


def _pod_state(pod) -> str:
    from kubeplay.pods.status import display_status

    return display_status(pod)


def _with_pod(event):
    """A pod's event under its Deployment: the message says which pod."""
    from dataclasses import replace

    from kubeplay.names import split_pod_key

    return replace(event, message=f"pod/{split_pod_key(event.pod)[1]}: {event.message}")


def describe_replicaset(store, item) -> str:
    """kubectl's layout for a ReplicaSet: its pods by phase, its template, and its pods' events."""
    from kubeplay.cli.replicasets import played_replicasets, replicasets
    from kubeplay.cli.resources import deployments
    from kubeplay.model.record import PodPhase
    from kubeplay.store.events import EventStore

    obj = item.build()
    meta, spec = obj["metadata"], obj["spec"]
    every = replicasets(store.engine.db, deployments(store)) + played_replicasets(store.pods())
    found = next(rs for rs in every if rs.name == item.name and rs.namespace == item.namespace)
    layout = Layout()
    layout.add("Name", meta["name"])
    layout.add("Namespace", meta.get("namespace", "default"))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    layout.add("Selector", ",".join(f"{k}={v}" for k, v in selector.items()))
    layout.mapping("Labels", meta.get("labels"))
    layout.mapping("Annotations", meta.get("annotations"))
    if found.deployment:
        layout.add("Controlled By", f"Deployment/{found.deployment}")
    layout.add("Replicas", f"{len(found.pods)} current / {found.desired} desired")
    phases = [pod.phase for pod in found.pods]
    waiting = sum(1 for phase in phases if phase is PodPhase.PENDING)
    layout.add("Pods Status", f"{phases.count(PodPhase.RUNNING)} Running / {waiting} Waiting / "
                              f"{phases.count(PodPhase.SUCCEEDED)} Succeeded / {phases.count(PodPhase.FAILED)} Failed")
    _pod_template_lines(layout, spec.get("template") or {})
    layout.add("Pods", ", ".join(f"{pod.shown_name} ({_pod_state(pod)})" for pod in found.pods) or "<none>")
    events = EventStore(store.engine.db)
    listed = sorted((event for pod in found.pods for event in events.list(pod.name)), key=lambda e: e.last_at)
    return layout.text() + events_text([_with_pod(event) for event in listed])


def describe_service(store, item) -> str:
    from kubeplay.cli.services import service_rows

    obj = item.build()
    meta, spec = obj["metadata"], obj["spec"]
    row = next(row for row in service_rows(store.engine.settings)
               if row["name"] == item.name and row["namespace"] == item.namespace)
    layout = Layout()
    layout.add("Name", meta["name"])
    layout.add("Namespace", meta.get("namespace", "default"))
    layout.mapping("Labels", meta.get("labels"))
    layout.mapping("Annotations", meta.get("annotations"))
    layout.add("Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()))
    layout.add("Type", spec.get("type", "ClusterIP"))
    layout.add("IP", spec.get("clusterIP", "None"))
    for port in row["ports"]:
        layout.add("Port", f"{port['name'] or '<unset>'}  {port['port']}/{port['protocol']}")
        layout.add("TargetPort", f"{port['targetPort']}/{port['protocol']}")
        if port.get("nodePort"):
            layout.add("NodePort", f"{port['name'] or '<unset>'}  {port['nodePort']}/{port['protocol']}")
        shown = [f"{e['ip']}:{p}" for e in row["endpoints"] for p in e["ports"]]
        layout.add("Endpoints", ",".join(shown) or "<none>")
    layout.add("Session Affinity", row["sessionAffinity"])
    return layout.text() + events_text([])


DESCRIBERS = {"pods": describe_pod, "deployments": describe_deployment, "replicasets": describe_replicaset,
              "services": describe_service}

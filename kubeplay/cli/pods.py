"""`kubeplay pods`, `ps` and the `pod` group: looking at pods and operating on them."""

from __future__ import annotations

import time

import click

from kubeplay.cli.listing import list_pods, pod_summary
from kubeplay.cli.options import namespace_option, namespace_options, pod_keys, resolve_namespace
from kubeplay.cli.render import age, echo_json, table
from kubeplay.config import Settings
from kubeplay.cli.completion import names_of


def _engine(settings: Settings):
    from kubeplay.pods.engine import Engine

    return Engine(settings)


def _records(engine):
    from kubeplay.pods.status import reconcile_pod

    return [reconcile_pod(engine.store, engine.settings, pod) for pod in engine.store.list_pods()]


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="A table as kubectl prints it, or JSON.")
@namespace_options
@click.pass_obj
def pods(settings: Settings, fmt: str, namespace: str | None, all_namespaces: bool) -> None:
    """List pods: NAME READY STATUS RESTARTS AGE, as kubectl shows them."""
    list_pods(settings, fmt, resolve_namespace(namespace, all_namespaces))


def container_info(container) -> dict:
    from kubeplay.controllers.readiness import container_ready

    return {
        "name": container.name,
        "id": container.id,
        "role": container.role.value,
        "image": container.plan.image if container.plan else "",
        "state": container.status.value,
        "pid": container.pid,
        "exitCode": container.exit_code,
        "ready": container_ready(container),
        "restartCount": container.restart_count,
        "startedAt": container.started_at,
        "finishedAt": container.finished_at,
        "reason": container.reason,
    }


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Also show containers that are not running.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", help="A table, or JSON.")
@click.pass_obj
def ps(settings: Settings, show_all: bool, fmt: str) -> None:
    """List containers (running ones unless -a)."""
    from kubeplay.model.record import ContainerStatus

    engine = _engine(settings)
    rows = []
    for pod in _records(engine):
        for container in pod.containers:
            if show_all or container.status is ContainerStatus.RUNNING:
                rows.append((pod.shown_name, pod.namespace, container_info(container)))
    if fmt == "json":
        echo_json([{"pod": pod, "namespace": namespace, **info} for pod, namespace, info in rows])
        return
    now = time.time()
    table(["CONTAINER ID", "POD", "NAME", "IMAGE", "STATUS", "RESTARTS", "STARTED"],
          [(i["id"][:12], pod, i["name"], i["image"] or "(infra)",
            i["state"] if i["exitCode"] is None else f"{i['state']} ({i['exitCode']})",
            i["restartCount"], age(i["startedAt"], now)) for pod, _, i in rows])


@click.group()
def pod() -> None:
    """Inspect and operate on pods."""


@pod.command("inspect")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("pod"))
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", help="JSON or YAML.")
@namespace_option
@click.pass_obj
def inspect(settings: Settings, names: tuple[str, ...], fmt: str, namespace: str) -> None:
    """Per-container state, exit code, restart count, pid, start and finish times."""
    from kubeplay.pods.status import reconcile_pod

    from kubeplay.controllers.launch import ensure_monitor, monitor_state
    from kubeplay.controllers.readiness import pod_conditions
    from kubeplay.store.events import EventStore

    engine = _engine(settings)
    result = []
    for name in pod_keys(namespace, names):
        record = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(name))
        # a dead monitor is reported as found, and started again
        monitor = monitor_state(engine.settings, record)
        if monitor == "not running" and ensure_monitor(engine, record):
            monitor = "not running (started again)"
        events = EventStore(engine.db).list(name, limit=INSPECT_EVENTS)
        result.append({**pod_summary(record), "reason": record.reason, "probeMonitor": monitor,
                       "conditions": pod_conditions(record),
                       "containers": [container_info(c) for c in record.containers],
                       "events": [event_info(e) for e in events],
                       "services": _services_of(engine, record)})
    if fmt == "yaml":
        import yaml

        from kubeplay.cli.render import text_times

        click.echo(yaml.safe_dump(text_times(result), sort_keys=False))
    else:
        echo_json(result)


INSPECT_EVENTS = 10  # the newest events of a pod that `pod inspect` shows; `kubeplay events` lists all


def event_info(event) -> dict:
    from kubeplay.controllers.readiness import timestamp

    return {"type": event.type, "reason": event.reason, "container": event.container, "message": event.message,
            "count": event.count, "firstTimestamp": timestamp(event.first_at), "lastTimestamp": timestamp(event.last_at)}


def _services_of(engine, record) -> list[dict]:
    """The Services selecting the pod, and whether it is one of their endpoints (as `services` shows)."""
    from kubeplay.model.endpoints import pod_ready, selects
    from kubeplay.store.services import ServiceStore

    store = ServiceStore(engine.db)
    if not store.any():
        return []
    return [{"name": service.name, "namespace": service.namespace, "endpoint": bool(record.ip) and (pod_ready(record) or service.plan.publish_not_ready)}
            for service in store.list()
            if service.namespace == record.plan.namespace and selects(service.plan.selector, record.plan.labels)]


@pod.command("stop")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("pod"))
@click.option("-t", "--time", "grace", type=int, default=None, help="Seconds to wait before SIGKILL.")
@namespace_option
@click.pass_obj
def stop(settings: Settings, names: tuple[str, ...], grace: int | None, namespace: str) -> None:
    """Stop pods: SIGTERM, the grace period, then SIGKILL."""
    from kubeplay.pods.lifecycle import stop_pod

    engine = _engine(settings)
    keys = pod_keys(namespace, names)
    for key, name in zip(keys, dict.fromkeys(names)):
        stop_pod(engine, key, grace)
        click.echo(name)
    _services_follow(engine, keys)


@pod.command("start")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("pod"))
@namespace_option
@click.pass_obj
def start(settings: Settings, names: tuple[str, ...], namespace: str) -> None:
    """Start stopped pods again from their stored plans."""
    from kubeplay.controllers.launch import start_monitors
    from kubeplay.pods.lifecycle import start_pod

    engine = _engine(settings)
    keys = pod_keys(namespace, names)
    for key, name in zip(keys, dict.fromkeys(names)):
        start_pod(engine, key)
        start_monitors(engine, [key])
        click.echo(name)
    _services_follow(engine, keys)


@pod.command("rm")
@click.argument("names", nargs=-1, required=True, shell_complete=names_of("pod"))
@click.option("-f", "--force", is_flag=True, help="Stop running pods first.")
@click.option("-t", "--time", "grace", type=int, default=None,
              help="With -f: seconds to wait after SIGTERM before SIGKILL (default: the pod's grace period).")
@namespace_option
@click.pass_obj
def rm(settings: Settings, names: tuple[str, ...], force: bool, grace: int | None, namespace: str) -> None:
    """Remove pods."""
    from kubeplay.pods.lifecycle import remove_pod

    engine = _engine(settings)
    keys = pod_keys(namespace, names)
    plans = [record.plan for record in map(engine.store.find_pod, keys) if record is not None]
    try:
        for key, name in zip(keys, dict.fromkeys(names)):
            remove_pod(engine, key, force=force, grace=grace)
            click.echo(name)
    finally:
        _services_follow(engine, (), plans)


def _services_follow(engine, keys, plans=()) -> None:
    """The Services selecting these pods (keys) send traffic only where pods now run."""
    from kubeplay.controllers.endpoints import pods_changed

    plans = list(plans) + [record.plan for record in map(engine.store.find_pod, keys) if record is not None]
    pods_changed(engine, plans)


pod.add_command(click.Command("ls", callback=pods.callback, params=pods.params, help="List pods (as `kubeplay pods`)."))

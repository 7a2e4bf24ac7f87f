"""What `play` and `down` do with manifest files, apart from parsing their options: the click
commands in kubeplay.cli.play call these."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kubeplay.cli.render import echo
from kubeplay.config import Settings

if TYPE_CHECKING:
    from kubeplay.translate import TranslateResult


def translate_files(files: tuple[str, ...], strict: bool, network: str, patches: tuple[str, ...] = (),
                    configmaps: tuple[str, ...] = (), publish: tuple[str, ...] = ()) -> TranslateResult:
    """The pods and claims of `files`, their warnings written to stderr."""
    from kubeplay.translate import TranslateOptions, translate
    from kubeplay.translate.loader import load

    documents = load(list(files), stdin=sys.stdin if "-" in files else None)
    if patches or configmaps:
        from kubeplay.translate.overrides import apply_patches, load_configmaps

        documents = apply_patches(documents, list(patches)) + load_configmaps(list(configmaps))
    result = translate(documents, TranslateOptions(strict=strict, network=network, max_replicas=max_replicas()))
    if publish:
        from kubeplay.translate.overrides import apply_publish

        result.pods = apply_publish(result.pods, list(publish))
    for warning in result.warnings:
        echo(f"warning: {warning}", err=True)
    return result


def max_replicas() -> int:
    """The most pods one workload may make: KUBEPLAY_MAX_REPLICAS, else the default."""
    import os

    from kubeplay.errors import UserError
    from kubeplay.translate.context import DEFAULT_MAX_REPLICAS, MAX_REPLICAS_ENV

    text = os.environ.get(MAX_REPLICAS_ENV, "")
    if not text:
        return DEFAULT_MAX_REPLICAS
    if not text.isdigit():
        raise UserError(f"{MAX_REPLICAS_ENV}={text!r} is not a whole number",
                        hint=f"set it to the most pods one workload may make (default {DEFAULT_MAX_REPLICAS})")
    return int(text)


def play_files(settings: Settings, files: tuple[str, ...], *, strict: bool = False, network: str = "",
               replace: bool = False, quiet: bool = False, patches: tuple[str, ...] = (),
               configmaps: tuple[str, ...] = (), publish: tuple[str, ...] = (), start: bool = True,
               dry_run: bool = False, fmt: str = "text", wait: float | None = None) -> None:
    """`wait`: seconds to wait for the pods to be ready once played (None: return at once)."""
    if dry_run:
        result = translate_files(files, strict, network, patches, configmaps, publish)
        from kubeplay.cli.render import echo_json
        from kubeplay.model.redact import redacted_plan

        echo_json([redacted_plan(plan) for plan in result.pods])
        return
    result = translate_files(files, strict, network, patches, configmaps, publish)
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.play import play as play_pods
    from kubeplay.pods.volumes import check_host_paths, ensure_claims, remove_volume

    check_host_paths(result.pods)  # before anything is made
    engine = Engine(settings)
    if result.deployments and not replace:
        from kubeplay.controllers.apply import check_not_applied

        check_not_applied(engine, result.deployments)
    if replace:
        from kubeplay.pods.jobs import remove_pods
        from kubeplay.pods.lifecycle import pods_for

        remove_pods(engine, pods_for(engine, result.pods))
    made = ensure_claims(engine, result.claims)
    progress = None if quiet or not sys.stderr.isatty() else (lambda message: echo(message, err=True))
    services = []
    try:
        if result.services:  # before the pods: their /etc/hosts and environment then name the Services
            from kubeplay.controllers.services import add_services

            services = add_services(engine, result.services, replace=replace)
        if not result.pods:
            started = []
        elif any(plan.owner is not None and plan.owner.kind == "Job" for plan in result.pods):
            from kubeplay.pods.jobs import jobs_locked

            with jobs_locked(engine, result.pods):
                started = play_pods(engine, result.pods, progress, start=start)
        else:
            started = play_pods(engine, result.pods, progress, start=start)
    except BaseException:
        from kubeplay.errors import ConflictError

        for claim in made:  # a failed play leaves no volume it made behind
            try:
                remove_volume(engine, claim, missing_ok=True)
            except ConflictError:
                pass  # a pod of another play mounts it by now: it is that play's
        if services:  # nor any Service
            from kubeplay.controllers.services import remove_services

            remove_services(engine, [record.plan.key for record in services])
        raise
    _services_follow(engine, result.pods, services, quiet)
    if result.deployments:
        from kubeplay.controllers.apply import record_played

        record_played(engine, result.deployments)
    if start and any(plan.owner is not None and plan.owner.kind == "Job" for plan in result.pods):
        from kubeplay.pods.jobs import start_deadline_timers

        start_deadline_timers(engine, result.pods)
    if start:
        from kubeplay.controllers.launch import start_monitors

        start_monitors(engine, started)
    if fmt == "json":
        from kubeplay.cli.render import echo_json

        echo_json([{"kind": "Pod", "name": name, "started": start} for name in started]
                  + [{"kind": "PersistentVolumeClaim", "name": claim} for claim in made]
                  + [service_summary(record) for record in services])
    elif not quiet:
        for name in started:
            echo(f"pod/{name} created")
        for record in services:
            echo(f"service/{record.name} created ({service_words(record)})")
        _tell_idle(result)
        if not result.pods and not services:
            echo("no pods in these manifests", err=True)
    if start and wait is not None:
        from kubeplay.controllers.wait import wait_for

        wait_for(engine, started, "ready", wait)


def _tell_idle(result: TranslateResult) -> None:
    for kind, name, _, why in result.idle_workloads:
        echo(f"{kind.lower()}/{name} has no pods ({why})", err=True)


def manifest_names(files: tuple[str, ...]):
    """The names the manifests hold (kubeplay.translate.targets): all `down` reads of them."""
    from kubeplay.translate.loader import load
    from kubeplay.translate.targets import names_in

    return names_in(load(list(files), stdin=sys.stdin if "-" in files else None))


def _services_follow(engine, plans: list, services: list, quiet: bool) -> None:
    """New pods join the Services that select them; every pod learns the new Services' names."""
    if not services and not plans:
        return
    from kubeplay.controllers.endpoints import pods_changed

    pods_changed(engine, plans)
    if services:
        from kubeplay.controllers.services import warnings_for
        from kubeplay.pods.network import refresh_all_hosts

        refresh_all_hosts(engine)
        if not quiet:
            for warning in warnings_for(engine, services):
                echo(f"warning: {warning}", err=True)
        if engine.settings.rootless and not quiet:
            echo("warning: rootless pods share no network, so kubeplay cannot route Services for them: the "
                 "Services were recorded (`kubeplay services`), but their names, cluster IPs and node ports do not "
                 "reach the pods; play as root, or publish hostPorts", err=True)


def service_summary(record) -> dict:
    return {"kind": "Service", "name": record.name, "namespace": record.namespace, "type": record.type,
            "clusterIP": record.cluster_ip or "None",
            "ports": [{"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol,
                       **({"nodePort": p.node_port} if p.node_port else {})} for p in record.ports]}


def service_words(record) -> str:
    """`ClusterIP 10.96.0.1, 80/TCP`, and where the host publishes it."""
    ports = ",".join(port.describe() for port in record.ports) or "no ports"
    words = f"{record.type} {record.cluster_ip or 'None (headless)'}, {ports}"
    published = [f"{port.node_port}/{port.protocol}" for port in record.ports if port.node_port]
    if record.type == "LoadBalancer":
        published = [f"{port.port}/{port.protocol}" for port in record.ports] + published
    if published:
        words += f"; on the host at {', '.join(published)}"
    return words


def down_files(settings: Settings, files: tuple[str, ...], *, volumes: bool = False, quiet: bool = False) -> None:
    """Remove the stored pods that the manifests' objects made, whatever else the files now say."""
    found = manifest_names(files)
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.jobs import remove_pods
    from kubeplay.pods.lifecycle import pods_named
    from kubeplay.pods.volumes import remove_claims

    engine = Engine(settings)
    names = remove_pods(engine, pods_named(engine, found.pods, found.workloads))
    from kubeplay.controllers.apply import forget_deployments

    forget_deployments(engine, [(namespace, name) for kind, name, namespace in found.workloads if kind == "Deployment"],
                       files)
    if not quiet:
        for name in names:
            echo(f"pod/{name} deleted")
    services = _down_services(engine, found.services, bool(names))
    if not quiet:
        for service in services:
            echo(f"service/{service.split('/', 1)[1]} deleted")
    if volumes:
        for claim in remove_claims(engine, found.claims):
            if not quiet:
                echo(f"persistentvolumeclaim/{claim} deleted")
    if not names and not services and not quiet:
        echo("no pods of these manifests are running", err=True)


def _down_services(engine, keys: tuple[tuple[str, str], ...], pods_removed: bool) -> list[str]:
    """The files' Services go; the Services left lose the removed pods from their endpoints."""
    from kubeplay.store.services import ServiceStore

    if not ServiceStore(engine.db).any():
        return []
    from kubeplay.controllers.endpoints import sync
    from kubeplay.controllers.services import remove_services

    removed = remove_services(engine, list(keys))
    if pods_removed:
        sync(engine)  # the removed pods' labels are not read again: every Service's endpoints anew
    return removed

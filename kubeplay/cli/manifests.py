"""What `play` and `down` do with manifest files, without click: the click commands in
kubeplay.cli.play and the fast path in kubeplay.cli.fast both call these."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from kubeplay.cli.aside import Translated, begin
from kubeplay.cli.render import echo
from kubeplay.config import Settings


def translate_files(files: tuple[str, ...], strict: bool, network: str, patches: tuple[str, ...] = (),
                    configmaps: tuple[str, ...] = (), publish: tuple[str, ...] = ()) -> Translated:
    from kubeplay.translate import TranslateOptions, translate
    from kubeplay.translate.loader import load

    documents = load(list(files), stdin=sys.stdin if "-" in files else None)
    if patches or configmaps:
        from kubeplay.translate.overrides import apply_patches, load_configmaps

        documents = apply_patches(documents, list(patches)) + load_configmaps(list(configmaps))
    result = translate(documents, TranslateOptions(strict=strict, network=network))
    if publish:
        from kubeplay.translate.overrides import apply_publish

        result.pods = apply_publish(result.pods, list(publish))
    return Translated(result.pods, result.claims, result.warnings, result.services)


def begin_translation(files: tuple[str, ...], *args) -> Callable[[], Translated]:
    """The translation of `files` (see translate_files for `args`), begun in a forked child where
    that can overlap the engine's imports (kubeplay.cli.aside); call the result for it."""
    return begin(functools.partial(translate_files, files, *args), may_fork="-" not in files)


def _with_warnings(result: Translated) -> Translated:
    for warning in result.warnings:
        echo(f"warning: {warning}", err=True)
    return result


def play_files(settings: Settings, files: tuple[str, ...], *, strict: bool = False, network: str = "",
               replace: bool = False, quiet: bool = False, patches: tuple[str, ...] = (),
               configmaps: tuple[str, ...] = (), publish: tuple[str, ...] = (), start: bool = True,
               dry_run: bool = False, fmt: str = "text") -> None:
    if dry_run:
        result = _with_warnings(translate_files(files, strict, network, patches, configmaps, publish))
        from kubeplay.cli.render import echo_json
        from kubeplay.model.redact import redacted_plan

        echo_json([redacted_plan(plan) for plan in result.pods])
        return
    translation = begin_translation(files, strict, network, patches, configmaps, publish)
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.play import load_modules
    from kubeplay.pods.play import play as play_pods
    from kubeplay.pods.volumes import check_host_paths, ensure_claims, remove_volume

    load_modules(settings.rootless)
    result = _with_warnings(translation())

    check_host_paths(result.pods)  # before anything is made
    engine = Engine(settings)
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
        started = play_pods(engine, result.pods, progress, start=start) if result.pods else []
    except BaseException:
        for claim in made:  # a failed play leaves no volume it made behind
            remove_volume(engine, claim, missing_ok=True)
        if services:  # nor any Service
            from kubeplay.controllers.services import remove_services

            remove_services(engine, [record.plan.key for record in services])
        raise
    _services_follow(engine, result.pods, services, quiet)
    if start and any(plan.owner is not None and plan.owner.kind == "Job" for plan in result.pods):
        from kubeplay.pods.jobs import start_deadline_timers

        start_deadline_timers(engine, result.pods)
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
        if not result.pods and not services:
            echo("no pods in these manifests", err=True)


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
    translation = begin_translation(files, False, "")
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.jobs import remove_pods
    from kubeplay.pods.lifecycle import pods_for
    from kubeplay.pods.volumes import remove_claims

    result = _with_warnings(translation())

    engine = Engine(settings)
    names = remove_pods(engine, pods_for(engine, result.pods))
    if not quiet:
        for name in names:
            echo(f"pod/{name} deleted")
    services = _down_services(engine, result, bool(names))
    if not quiet:
        for service in services:
            echo(f"service/{service.split('/', 1)[1]} deleted")
    if volumes:
        for claim in remove_claims(engine, result.claims):
            if not quiet:
                echo(f"persistentvolumeclaim/{claim} deleted")
    if not names and not services and not quiet:
        echo("no pods of these manifests are running", err=True)


def _down_services(engine, result: Translated, pods_removed: bool) -> list[str]:
    """The file's Services go; the Services left lose the removed pods from their endpoints."""
    from kubeplay.store.services import ServiceStore

    if not ServiceStore(engine.db).any():
        return []
    from kubeplay.controllers.endpoints import pods_changed
    from kubeplay.controllers.services import remove_services

    removed = remove_services(engine, [plan.key for plan in result.services])
    if pods_removed:
        pods_changed(engine, result.pods)
    return removed

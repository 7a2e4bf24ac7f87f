"""`play` and `down` of manifest files as the command line sees them: read the files, hand the
objects to kubeplay.controllers.manifests, print what was made or removed. The click commands in
kubeplay.cli.play call these."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kubeplay.cli.render import echo
from kubeplay.config import Settings
from kubeplay.names import split_pod_key

if TYPE_CHECKING:
    from kubeplay.translate.context import TranslateResult


def translate_files(files: tuple[str, ...], strict: bool, network: str, patches: tuple[str, ...] = (),
                    configmaps: tuple[str, ...] = (), publish: tuple[str, ...] = ()) -> TranslateResult:
    """The pods, claims and Services of `files`, their warnings written to stderr."""
    from kubeplay.translate.context import TranslateOptions
    from kubeplay.translate.loader import load
    from kubeplay.translate.run import translate

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


def terminal_progress():
    """play's messages on a terminal, with the per-layer bars of the pulls it makes."""
    from kubeplay.cli.pullprogress import TerminalProgress

    return TerminalProgress(sys.stderr)


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
               dry_run: bool = False, fmt: str = "text", wait: float | None = None, session=None,
               service: bool = False, pod_flags=None, pull_options=None) -> None:
    """`wait`: seconds to wait for the pods to be ready once played (None: return at once).
    `session` (kubeplay.controllers.unit_session) talks to a service manager; `service` stays for it.
    `pod_flags` (translate.playflags.PodFlags) change the pods, `pull_options` how images are pulled."""
    result = translate_files(files, strict, network, patches, configmaps, publish)
    if pod_flags is not None:
        from kubeplay.translate.playflags import apply_pod_flags

        result.pods = apply_pod_flags(result.pods, pod_flags)
    if dry_run:
        from kubeplay.cli.render import echo_json
        from kubeplay.model.redact import redacted_plan

        echo_json([redacted_plan(plan) for plan in result.pods])
        return
    from kubeplay.controllers.manifests import play_manifests
    from kubeplay.pods.engine import Engine

    engine = Engine(settings, pull_options)
    if session is not None:
        session.prepare(engine, result.pods)  # its annotations checked before anything is made
    progress = None if quiet or not sys.stderr.isatty() else terminal_progress()
    if session is not None and session.notifier.active:
        progress = session.progress_to(progress)
    played = play_manifests(engine, result, replace=replace, start=start, progress=progress)
    if not quiet:
        for warning in played.warnings:
            echo(f"warning: {warning}", err=True)
    if fmt == "json":
        from kubeplay.cli.render import echo_json

        echo_json([{"kind": "Pod", "name": split_pod_key(key)[1], "namespace": split_pod_key(key)[0], "started": start}
                   for key in played.pods]
                  + [{"kind": "PersistentVolumeClaim", "name": claim} for claim in played.claims]
                  + [service_summary(record) for record in played.services])
    elif not quiet:
        for key in played.pods:
            echo(f"pod/{split_pod_key(key)[1]} created")
        for record in played.services:
            echo(f"service/{record.name} created ({service_words(record)})")
        _tell_idle(result)
        if not result.pods and not played.services:
            echo("no pods in these manifests", err=True)
    if session is not None and start:
        if service:
            session.serve(engine, played.pods, _wait_timeout(wait), lambda: down_files(settings, files, quiet=True))
        else:
            if session.wants_readiness() or wait is not None:
                session.wait_ready(engine, played.pods, _wait_timeout(wait), staying=False,
                                   report=None if quiet else lambda text: echo(text, err=True))
            session.close()
    elif start and wait is not None:
        from kubeplay.controllers.wait import wait_for

        wait_for(engine, played.pods, "ready", wait, report=None if quiet else lambda text: echo(text, err=True))


def _wait_timeout(wait: float | None) -> float:
    """How long a service manager's play waits for readiness: --timeout's seconds, else 5 minutes."""
    from kubeplay.controllers.wait import parse_duration

    return wait if wait is not None else parse_duration("5m")


def _tell_idle(result: TranslateResult) -> None:
    for kind, name, _, why in result.idle_workloads:
        echo(f"{kind.lower()}/{name} has no pods ({why})", err=True)


def manifest_names(files: tuple[str, ...]):
    """The names the manifests hold (kubeplay.translate.targets): all `down` reads of them."""
    from kubeplay.translate.loader import load
    from kubeplay.translate.targets import names_in

    return names_in(load(list(files), stdin=sys.stdin if "-" in files else None))


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
    from kubeplay.controllers.manifests import down_manifests
    from kubeplay.pods.engine import Engine

    removed = down_manifests(Engine(settings), found, volumes=volumes, files=files)
    for warning in removed.warnings:
        echo(f"warning: {warning}", err=True)
    if quiet:
        return
    for key in removed.pods:
        echo(f"pod/{split_pod_key(key)[1]} deleted")
    for service in removed.services:
        echo(f"service/{service.split('/', 1)[1]} deleted")
    for claim in removed.claims:
        echo(f"persistentvolumeclaim/{claim} deleted")
    if not removed.pods and not removed.services:
        echo("no pods of these manifests are running", err=True)

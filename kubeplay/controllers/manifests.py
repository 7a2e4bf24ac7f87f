"""What `play` and `down` make and remove for a set of manifests, as one step that either finishes
or leaves nothing: claims' volumes, Services, pods (a Job's under its lock), and what follows them
(endpoints, names, Job deadline timers, probe monitors). The command line only parses and prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubeplay.pods.engine import Engine

if TYPE_CHECKING:
    from kubeplay.pods.play import Progress
    from kubeplay.store.services import ServiceRecord
    from kubeplay.translate.context import TranslateResult
    from kubeplay.translate.targets import ManifestNames


@dataclass
class Played:
    pods: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Removed:
    pods: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # "namespace/name"
    claims: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the removal left the user to do


def play_manifests(engine: Engine, result: TranslateResult, *, replace: bool = False, start: bool = True,
                   progress: Progress | None = None) -> Played:
    """Make what the translated manifests describe. With `replace`, their pods that run go first. A
    failure removes the volumes and Services this call made (the pods roll themselves back)."""
    from kubeplay.pods.namedvolumes import ensure_claims
    from kubeplay.pods.volumes import check_host_paths

    check_host_paths(result.pods)  # before anything is made
    if result.deployments and not replace:
        from kubeplay.controllers.apply import check_not_applied

        check_not_applied(engine, result.deployments)
    if replace:
        from kubeplay.pods.lifecycle import pods_for, remove_pods

        remove_pods(engine, pods_for(engine, result.pods))
    played = Played(claims=ensure_claims(engine, result.claims))
    try:
        if result.services:  # before the pods: their /etc/hosts and environment then name the Services
            from kubeplay.controllers.services import add_services

            played.services = add_services(engine, result.services, replace=replace)
        played.pods = _play_pods(engine, result, start, progress)
    except BaseException:
        _roll_back(engine, played)
        raise
    played.warnings = _services_follow(engine, result.pods, played.services)
    if result.deployments:
        from kubeplay.controllers.apply import record_played

        record_played(engine, result.deployments)
    if start:
        _start_controllers(engine, result, played.pods)
    return played


def _play_pods(engine: Engine, result: TranslateResult, start: bool, progress: Progress | None) -> list[str]:
    from kubeplay.pods.play import play

    if not result.pods:
        return []
    if not any(_is_job_pod(plan) for plan in result.pods):
        return play(engine, result.pods, progress, start=start)
    from kubeplay.controllers.jobs import jobs_locked

    with jobs_locked(engine, result.pods):
        return play(engine, result.pods, progress, start=start)


def _is_job_pod(plan) -> bool:
    return plan.owner is not None and plan.owner.kind == "Job"


def _roll_back(engine: Engine, played: Played) -> None:
    from kubeplay.errors import ConflictError
    from kubeplay.pods.namedvolumes import remove_volume

    for claim in played.claims:  # a failed play leaves no volume it made behind
        try:
            remove_volume(engine, claim, missing_ok=True)
        except ConflictError:
            pass  # a pod of another play mounts it by now: it is that play's
    if played.services:  # nor any Service
        from kubeplay.controllers.services import remove_services

        remove_services(engine, [record.plan.key for record in played.services])


def _services_follow(engine: Engine, plans: list, services: list) -> list[str]:
    """New pods join the Services that select them; every pod learns the new Services' names.
    Returns what the user should be warned of."""
    if not services and not plans:
        return []
    from kubeplay.controllers.endpoints import pods_changed

    pods_changed(engine, plans)
    if not services:
        return []
    from kubeplay.controllers.services import warnings_for
    from kubeplay.pods.network import refresh_all_hosts

    refresh_all_hosts(engine)
    warnings = list(warnings_for(engine, services))
    if engine.settings.rootless:
        from kubeplay.pods.rootlessroutes import rootless_warnings

        warnings += rootless_warnings(engine, services)
    return warnings


def _start_controllers(engine: Engine, result: TranslateResult, started: list[str]) -> None:
    if any(_is_job_pod(plan) for plan in result.pods):
        from kubeplay.controllers.jobs import start_deadline_timers

        start_deadline_timers(engine, result.pods)
    from kubeplay.controllers.launch import needs_monitor, start_monitors

    # only the pods whose plans ask for a monitor are read back: reading a pod decodes its plans
    watched = {plan.key for plan in result.pods if needs_monitor(plan)}
    start_monitors(engine, [name for name in started if name in watched])


def down_manifests(engine: Engine, found: ManifestNames, *, volumes: bool = False,
                   files: tuple[str, ...] = ()) -> Removed:
    """Remove the stored pods and Services that the manifests' objects made, whatever else the files
    now say, and what apply recorded of their Deployments and objects; with `volumes`, their claims'
    volumes too."""
    from kubeplay.controllers.apply import forget_deployments
    from kubeplay.pods.lifecycle import pods_named, remove_pods

    removed = Removed(pods=remove_pods(engine, pods_named(engine, found.pods, found.workloads)))
    forget_deployments(engine, [(namespace, name) for kind, name, namespace in found.workloads if kind == "Deployment"],
                       files)
    removed.services = _down_services(engine, found.services, bool(removed.pods))
    if engine.settings.rootless and removed.pods:
        from kubeplay.pods.rootlessroutes import unpublished_warnings

        removed.warnings = unpublished_warnings(engine)
    if volumes:
        from kubeplay.pods.namedvolumes import remove_claims

        removed.claims = remove_claims(engine, found.claims)
    return removed


def _down_services(engine: Engine, keys: tuple[tuple[str, str], ...], pods_removed: bool) -> list[str]:
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

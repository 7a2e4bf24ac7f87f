"""play: from PodPlans to running pods. Each step is one function; a failure removes exactly what this
call made (an ExitStack of undo steps, dropped on success)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import ExitStack

from kubeplay.errors import ConflictError
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import PodPhase
from kubeplay.pods import network
from kubeplay.pods.create import (
    InitContainerFailed,
    MemberFactory,
    host_ip,
    run_init_containers,
    start_infra,
    start_members,
)
from kubeplay.pods.engine import Engine
from kubeplay.pods.images import ensure_images
from kubeplay.pods.lock import pod_lock
from kubeplay.pods.paths import PodPaths
from kubeplay.pods.podfiles import mount_shm, refresh_hosts, release_pod_files, write_pod_files
from kubeplay.pods.volumes import prepare_volumes, release_volumes

Progress = Callable[[str], None]


def check_names_free(engine: Engine, plans: list[PodPlan]) -> None:
    seen: set[str] = set()
    for plan in plans:
        if plan.name in seen:
            raise ConflictError(f'two pods are named "{plan.name}" in this play', hint="give each pod its own name")
        seen.add(plan.name)
        if engine.store.find_pod(plan.name):
            raise ConflictError(
                f'pod "{plan.name}" already exists',
                hint=f"`kubeplay down FILE` first, or `kubeplay play --replace`; `kubeplay pod rm -f {plan.name}` removes it",
            )


def play(engine: Engine, plans: list[PodPlan], progress: Progress | None = None, *, start: bool = True) -> list[str]:
    """Start every pod, or none: on failure, the pods this call already made are removed too.

    With start=False the pods are only recorded (images present, state Stopped); `pod start` makes them.
    """
    check_names_free(engine, plans)
    check_batch_ports(plans)
    if not start:
        return create_stopped(engine, plans, progress)
    for plan in plans:
        network.check_pod_ports(engine, plan)
    started: list[str] = []
    with ExitStack() as undo_all:
        for plan in plans:
            with ExitStack() as undo:
                try:
                    play_pod(engine, plan, undo, progress)
                except InitContainerFailed:
                    undo.pop_all()  # keep the failed pod so its logs can be read
                    undo_all.pop_all()
                    raise
                except BaseException:
                    for name in started:  # pods made before this one go too; no restart may revive them
                        with pod_lock(engine.settings, name):
                            engine.store.set_pod_state(name, phase=PodPhase.STOPPED)
                    raise
                undo_all.push(undo.pop_all())
            started.append(plan.name)
        undo_all.pop_all()
    _refresh_peers(engine, plans)
    return started


def check_batch_ports(plans: list[PodPlan]) -> None:
    """Two pods of one play asking for the same host port: refused before either is made."""
    claimed: list[tuple[str, int, str, str]] = []  # (host ip or "", port, protocol, pod)
    for plan in plans:
        for port in plan.ports:
            for ip, number, protocol, owner in claimed:
                overlaps = not ip or not port.host_ip or ip == port.host_ip
                if owner != plan.name and number == port.host_port and protocol == port.protocol and overlaps:
                    raise ConflictError(
                        f'pods "{owner}" and "{plan.name}" both ask for host port {number}/{protocol.lower()}',
                        hint="give each pod its own hostPort (a Deployment with a hostPort can have one replica here)",
                    )
            claimed.append((port.host_ip, port.host_port or 0, port.protocol, plan.name))


def create_stopped(engine: Engine, plans: list[PodPlan], progress: Progress | None = None) -> list[str]:
    for plan in plans:
        ensure_images(engine, plan, progress)
    for plan in plans:
        engine.store.add_pod(uuid.uuid4().hex, plan)
        engine.store.set_pod_state(plan.name, phase=PodPhase.STOPPED, reason="created with --no-start")
    return [plan.name for plan in plans]


def play_pod(engine: Engine, pod: PodPlan, undo: ExitStack, progress: Progress | None = None) -> None:
    say = progress or (lambda message: None)  # noqa: E731
    images = ensure_images(engine, pod, progress)
    pod_id = uuid.uuid4().hex
    with pod_lock(engine.settings, pod.name):
        engine.store.add_pod(pod_id, pod)
        undo.callback(engine.store.remove_pod, pod.name)
        try:
            _make_pod(engine, pod, pod_id, images, undo)
        except InitContainerFailed as exc:
            engine.store.set_pod_state(pod.name, phase=PodPhase.FAILED, reason=exc.message)
            raise
        except BaseException:
            # before the lock is released: a restart already waiting for it must find the pod going away
            engine.store.set_pod_state(pod.name, phase=PodPhase.STOPPED)
            raise
        engine.store.set_pod_state(pod.name, phase=PodPhase.RUNNING)
    say(f"pod {pod.name}: running")


def _make_pod(engine: Engine, pod: PodPlan, pod_id: str, images, undo: ExitStack) -> None:
    paths = PodPaths(engine.settings, pod_id)
    undo.callback(_remove_pod_cgroups, pod_id)
    net = network.setup(engine, pod, pod_id)
    undo.callback(network.teardown, engine, pod, pod_id)
    engine.store.set_pod_state(pod.name, ip=net.ip)
    undo.callback(release_pod_files, paths)
    write_pod_files(pod, paths, net.ip, network.peers(engine, pod, net.network))
    if not pod.host_ipc:
        mount_shm(paths)
    undo.callback(release_volumes, pod, paths)
    sources = prepare_volumes(pod, paths, engine.settings.root,
                              field_values={"status.podIP": net.ip, "status.hostIP": host_ip(),
                                            "status.podIPs": net.ip})
    infra_pid = start_infra(engine, pod, pod_id, net, undo)
    factory = MemberFactory(engine, pod, pod_id, paths, net, infra_pid, images, sources)
    run_init_containers(factory, undo)
    start_members(factory, undo)


def _remove_pod_cgroups(pod_id: str) -> None:
    from kubeplay.oci.cgroups import remove_pod_cgroups

    remove_pod_cgroups(pod_id)


def _refresh_peers(engine: Engine, changed: list[PodPlan]) -> None:
    """Pods on the same network learn each other's names: rewrite their /etc/hosts in place."""
    networks = {network.network_name(plan) for plan in changed} - {"", "none"}
    if not networks:
        return
    for record in engine.store.list_pods():
        name = network.network_name(record.plan)
        if name in networks and record.ip:
            refresh_hosts(record.plan, PodPaths(engine.settings, record.id), record.ip,
                          network.peers(engine, record.plan, name))

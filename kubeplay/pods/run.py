"""`run`: a one-container pod, or one more container in a running pod (the plans come from
kubeplay.translate.flags). The pod made here is an ordinary pod: its plan is stored like a played
one, so it is listed, logged, stopped and generated like any other."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace

from kubeplay.errors import ConflictError, UserError
from kubeplay.model.plan import ContainerPlan, PodPlan, VolumePlan
from kubeplay.model.record import ContainerRole, PodPhase
from kubeplay.pods import containers, network
from kubeplay.pods.create import MemberFactory, namespace_paths
from kubeplay.pods.engine import Engine
from kubeplay.pods.images import ensure_images
from kubeplay.pods.lock import pod_lock
from kubeplay.pods.namedvolumes import NamedClaim, ensure_claims
from kubeplay.pods.paths import PodPaths
from kubeplay.pods.play import Progress, play
from kubeplay.pods.status import reconcile_pod
from kubeplay.pods.volumes import prepare_volumes


def _claims(volumes: tuple[VolumePlan, ...]) -> list[NamedClaim]:
    return [NamedClaim(v.claim_name) for v in volumes if v.kind == "persistentVolumeClaim"]


def run_pod(engine: Engine, plan: PodPlan, progress: Progress | None = None) -> str:
    """Make and start the pod; returns its key."""
    ensure_claims(engine, _claims(plan.volumes))
    play(engine, [plan], progress)
    return plan.key


def add_container(engine: Engine, pod_name: str, container: ContainerPlan, volumes: tuple[VolumePlan, ...],
                  progress: Progress | None = None) -> None:
    """Create and start one more member in a running pod, joined to its infra's namespaces."""
    if any(port.host_port for port in container.ports):
        raise UserError(f'host ports belong to the pod, and pod "{pod_name}" is already running',
                        hint="give the port without a host part (--port 8080), or publish it when "
                             "creating the pod")
    with pod_lock(engine.settings, pod_name):
        record = reconcile_pod(engine.store, engine.settings, engine.store.get_pod(pod_name))
        _check_can_join(record, container)
        plan = replace(record.plan, containers=record.plan.containers + (container,),
                       volumes=record.plan.volumes + volumes)
        images = ensure_images(engine, replace(plan, containers=(container,), init_containers=()), progress)
        ensure_claims(engine, _claims(volumes))
        paths = PodPaths(engine.settings, record.id)
        sources = prepare_volumes(replace(plan, volumes=volumes), paths, engine.settings.root)
        infra = next(c for c in record.containers if c.role is ContainerRole.INFRA)
        net = _pod_net(engine, record)
        factory = MemberFactory(engine, plan, record.id, paths, net.ip,
                                namespace_paths(engine, record.id, plan, infra.pid or 0, net), images, sources)
        with ExitStack() as undo:
            engine.store.replace_plan(pod_name, plan)
            undo.callback(engine.store.replace_plan, pod_name, record.plan)
            container_id = factory.register(container, ContainerRole.MEMBER, len(record.plan.containers))
            undo.callback(containers.remove, engine, container_id)
            factory.create_and_start(container_id, container)
            undo.pop_all()


def _check_can_join(record, container: ContainerPlan) -> None:
    from kubeplay.model.record import ContainerStatus

    infra = [c for c in record.containers if c.role is ContainerRole.INFRA and c.status is ContainerStatus.RUNNING]
    if record.phase is not PodPhase.RUNNING or not infra:
        raise ConflictError(f'pod "{record.name}" is not running ({record.phase.value})',
                            hint=f"start it first: `kubeplay pod start {record.name}`")
    if container.name in {c.name for c in record.plan.all_containers}:
        raise ConflictError(f'pod "{record.name}" already has a container named "{container.name}"',
                            hint="choose another NAME for the new container")


def _pod_net(engine: Engine, record) -> network.PodNet:
    if record.plan.host_network:
        return network.PodNet(None, "", "")
    from kubeplay.net.netns import netns_path

    return network.PodNet(netns_path(engine.settings, record.id), record.ip or "",
                          network.network_name(record.plan))

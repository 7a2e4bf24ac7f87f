"""play: from PodPlans to running pods. Each step is one function; a failure removes exactly what this
call made (an ExitStack of undo steps, dropped on success)."""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import ConflictError
from kubeplay.logs import get_logger
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import PodPhase
from kubeplay.names import DEFAULT_NAMESPACE, split_pod_key
from kubeplay.pods import containers, network
from kubeplay.pods.create import (
    InitContainerExited,
    InitContainerFailed,
    MemberFactory,
    launch_infra,
    namespace_paths,
    pinned_kinds,
    register_infra,
    register_members,
    run_init_containers,
    runtime_field_values,
    start_infra,
    start_members,
)
from kubeplay.pods.engine import Engine
from kubeplay.pods.images import ensure_images, pulled_events
from kubeplay.pods.infra import infra_rootfs
from kubeplay.pods.initretry import back_off
from kubeplay.pods.lock import pod_lock
from kubeplay.pods.paths import PodPaths
from kubeplay.pods.podfiles import mount_shm, pod_hostname, release_pod_files, write_pod_files
from kubeplay.pods.servicenames import ServiceNames
from kubeplay.pods.volumes import claim_volumes, prepare_volumes, release_volumes
from kubeplay.store.events import EventStore
from kubeplay.threads import InBackground, run_together

log = get_logger(__name__)
Progress = Callable[[str], None]
# pods made at once: enough to overlap one pod's runtime waits with another's work on 2 cores,
# few enough that conmon/runc start-ups do not just queue for the CPU
PLAY_WORKERS = 4


def check_names_free(engine: Engine, plans: list[PodPlan]) -> None:
    """Pod names are unique per namespace: refused before anything is made."""
    seen: set[str] = set()
    for plan in plans:
        if plan.key in seen:
            raise ConflictError(f'two pods are named "{plan.name}" in namespace {plan.namespace} in this play',
                                hint="give each pod its own name")
        seen.add(plan.key)
        if engine.store.pod_phase(plan.key) is not None:
            where = "" if plan.namespace == DEFAULT_NAMESPACE else f" -n {plan.namespace}"
            raise ConflictError(
                f'pod "{plan.name}" already exists in namespace {plan.namespace}',
                hint=f"`kubeplay apply -f FILE` changes it in place, `kubeplay play --replace` makes it again; "
                     f"`kubeplay pod rm -f{where} {plan.name}` removes it",
            )


def play(engine: Engine, plans: list[PodPlan], progress: Progress | None = None, *, start: bool = True) -> list[str]:
    """Start every pod, or none: on failure, the pods this call already made are removed too.

    With start=False the pods are only recorded (images present, state Stopped); `pod start` makes them.
    Pods are made concurrently, a few at a time: most of a pod's making is waiting on the runtime.
    An init container that fails keeps its pod (Failed, for its logs) and the pods already made.
    """
    check_names_free(engine, plans)
    check_batch_ports(plans)
    if not start:
        return create_stopped(engine, plans, progress)
    for plan in plans:
        network.check_pod_ports(engine, plan)
    pulled: dict[str, float] = {}
    images = [ensure_images(engine, plan, progress, pulled) for plan in plans]  # all found before anything is made
    outcomes, interrupted = _make_all(engine, plans, images, progress, pulled)
    failures = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, InitContainerFailed)]
    if interrupted is not None or failures:
        _undo_all(engine, outcomes)
        raise interrupted or failures[0]
    init_failures = [o.error for o in outcomes if isinstance(o.error, InitContainerFailed)]
    if init_failures:
        raise init_failures[0]
    _refresh_peers(engine, plans)
    return [o.key for o in outcomes]


@dataclass
class _Outcome:
    """One pod of a play: its undo steps (kept until the whole play succeeds) or what went wrong."""

    key: str  # the pod's key (PodPlan.key)
    undo: ExitStack | None = None
    error: BaseException | None = None
    skipped: bool = False


def _make_all(engine: Engine, plans: list[PodPlan], images: list[dict], progress: Progress | None,
              pulled: dict[str, float]) -> tuple[list[_Outcome], BaseException | None]:
    """Make the pods; returns each one's outcome, and the interrupt (a signal) that cut the play
    short, if one did: the pods being made when it came are finished first, then all undone."""
    outcomes = [_Outcome(plan.key) for plan in plans]
    failed = threading.Event()  # pods not begun yet are not made once one failed

    def make(index: int) -> None:
        outcome = outcomes[index]
        if failed.is_set():
            outcome.skipped = True
            return
        undo = ExitStack()
        try:
            play_pod(engine, plans[index], undo, progress, images=images[index], pulled=pulled)
        except InitContainerFailed as exc:
            outcome.error = exc  # the pod stays (Failed) so its logs can be read, unless another pod failed
            failed.set()
        except BaseException as exc:
            undo.close()
            outcome.error = exc
            failed.set()
            return
        outcome.undo = undo

    if len(plans) == 1:
        make(0)
        return outcomes, None
    from concurrent.futures import ThreadPoolExecutor  # a play of one pod needs no pool

    engine.prepare_for_threads()
    infra_rootfs(engine)  # its temporary name is per process, so threads must not make it together
    interrupted: BaseException | None = None
    with ThreadPoolExecutor(max_workers=min(PLAY_WORKERS, len(plans)), thread_name_prefix="kubeplay-play") as pool:
        for future in [pool.submit(make, index) for index in range(len(plans))]:
            while True:
                try:
                    future.result()
                    break
                except KeyboardInterrupt as exc:
                    interrupted = interrupted or exc
                    failed.set()  # no pod begins after it; those under way are finished, then undone
    return [o for o in outcomes if not o.skipped], interrupted


def _undo_all(engine: Engine, outcomes: list[_Outcome]) -> None:
    """Remove every pod this play made, each marked Stopped first so no restart revives it."""
    made = [o for o in outcomes if o.undo is not None]
    for outcome in made:
        with pod_lock(engine.settings, outcome.key):
            engine.store.set_pod_state(outcome.key, phase=PodPhase.STOPPED)
    for outcome in reversed(made):
        outcome.undo.close()  # type: ignore[union-attr]


def check_batch_ports(plans: list[PodPlan]) -> None:
    """Two pods of one play asking for the same host port: refused before either is made."""
    claimed: list[tuple[str, int, str, str]] = []  # (host ip or "", port, protocol, pod)
    for plan in plans:
        for port in plan.ports:
            for ip, number, protocol, owner in claimed:
                overlaps = not ip or not port.host_ip or ip == port.host_ip
                if owner != plan.key and number == port.host_port and protocol == port.protocol and overlaps:
                    raise ConflictError(
                        f'pods "{split_pod_key(owner)[1]}" and "{plan.name}" both ask for host port {number}/{protocol.lower()}',
                        hint="give each pod its own hostPort (a Deployment with a hostPort can have one replica here)",
                    )
            claimed.append((port.host_ip, port.host_port or 0, port.protocol, plan.key))


def create_stopped(engine: Engine, plans: list[PodPlan], progress: Progress | None = None) -> list[str]:
    for plan in plans:
        ensure_images(engine, plan, progress)
    for plan in plans:
        engine.store.add_pod(secrets.token_hex(16), plan)
        engine.store.set_pod_state(plan.key, phase=PodPhase.STOPPED, reason="created with --no-start")
    return [plan.key for plan in plans]


def play_pod(engine: Engine, pod: PodPlan, undo: ExitStack, progress: Progress | None = None, *,
             images: dict | None = None, pulled: dict[str, float] | None = None) -> None:
    say = progress or (lambda message: None)  # noqa: E731
    if images is None:
        pulled = {}
        images = ensure_images(engine, pod, progress, pulled)
    pod_id = secrets.token_hex(16)
    with pod_lock(engine.settings, pod.key):
        engine.store.add_pod(pod_id, pod)
        undo.callback(engine.store.remove_pod, pod.key)
        EventStore(engine.db).add_all(pod.key, pulled_events(pod, pulled or {}))
        try:
            _make_pod(engine, pod, pod_id, images, undo)
        except InitContainerExited as exited:
            # kept, Pending: a detached process retries the init container and then starts the members
            log.warning("%s", back_off(exited))
            say(f"pod {pod.name}: Init:CrashLoopBackOff")
            return
        except InitContainerFailed as exc:
            engine.store.set_pod_state(pod.key, phase=PodPhase.FAILED, reason=exc.message)
            raise
        except BaseException:
            # before the lock is released: a restart already waiting for it must find the pod going away
            engine.store.set_pod_state(pod.key, phase=PodPhase.STOPPED)
            raise
        engine.store.set_pod_state(pod.key, phase=PodPhase.RUNNING)
    say(f"pod {pod.name}: running")


def _make_pod(engine: Engine, pod: PodPlan, pod_id: str, images, undo: ExitStack) -> None:
    paths = PodPaths(engine.settings, pod_id)
    undo.callback(_remove_pod_cgroups, pod_id)
    kinds = pinned_kinds(engine, pod)
    if kinds:
        _make_pod_pinned(engine, pod, pod_id, images, undo, paths, kinds)
        return
    pending = network.begin_setup(engine, pod, pod_id)
    undo.callback(network.teardown_pending, engine, pod, pod_id, pending)
    # the infra only holds namespaces: it starts while the veth and addresses are set up
    infra_pid = start_infra(engine, pod, pod_id, pending.netns, undo)
    net = pending.wait()
    factory = _prepare_members(engine, pod, pod_id, images, undo, paths, net.ip,
                               namespace_paths(engine, pod_id, pod, infra_pid, net), net.network)
    run_init_containers(factory, undo)
    start_members(factory, undo)


def _make_pod_pinned(engine: Engine, pod: PodPlan, pod_id: str, images, undo: ExitStack, paths: PodPaths,
                     kinds: list[str]) -> None:
    """The pod's namespaces are made first and pinned, so nothing waits for the infra: it is created
    while the members are prepared, the members are created while the network attaches, and they
    start once the network is up (as on Kubernetes, where the sandbox's network is ready before any
    container runs)."""
    from kubeplay.net.netns import pin_pod_namespaces, remove_pinned

    undo.callback(remove_pinned, engine.settings, pod_id)
    pinned = {kind: str(path) for kind, path in
              pin_pod_namespaces(engine.settings, pod_id, kinds, pod_hostname(pod)).items()}
    # the runtime creates the infra on the other core while this thread prepares the members
    infra = InBackground(functools.partial(launch_infra, engine, pod, pod_id, register_infra(engine, pod, undo),
                                           pinned), name="kubeplay-infra")
    undo.callback(infra.settle)  # runs before the infra's removal: nothing is removed while being made
    netns = Path(pinned["network"]) if "network" in pinned else None
    pending = network.begin_setup(engine, pod, pod_id, netns=netns, attach_now=False)
    undo.callback(network.teardown_pending, engine, pod, pod_id, pending)
    factory = _prepare_members(engine, pod, pod_id, images, undo, paths, pending.ip, pinned,
                               network.network_name(pod) if netns else "")
    if pod.init_containers:
        # init containers run in order on the finished network before any member is created
        run_together([infra.wait, pending.wait])
        run_init_containers(factory, undo)
        start_members(factory, undo)
        return
    members = register_members(factory, undo)
    # The members' bundles are written here, and only then does the attach begin: its Python work
    # would hold the GIL these need, while it can run beside the runtime's creates, which take
    # longer and need the network only when the members start.
    for container_id, container in members:
        factory.build(container_id, container)
    pending.begin()

    def create_then_start(container_id: str, container) -> None:
        pid = factory.create_built(container_id, container)
        pending.wait()  # each member starts once the network is up, not waiting for the others
        containers.start(engine, container_id, pid)

    run_together([infra.wait, pending.wait, *[functools.partial(create_then_start, cid, c) for cid, c in members]])


def _prepare_members(engine: Engine, pod: PodPlan, pod_id: str, images, undo: ExitStack, paths: PodPaths,
                     ip: str, ns_paths: dict[str, str], network_name: str) -> MemberFactory:
    """The pod's files (/etc/hosts, hostname, resolv.conf, /dev/shm) and volumes, and a factory for
    its containers' bundles."""
    engine.store.set_pod_state(pod.key, ip=ip)
    undo.callback(release_pod_files, paths)
    write_pod_files(pod, paths, ip, network.peers(engine, pod, network_name), ServiceNames(engine))
    if not pod.host_ipc:
        mount_shm(paths)
    undo.callback(release_volumes, pod, paths)
    claim_volumes(engine, pod)
    sources = prepare_volumes(pod, paths, engine.settings.root, field_values=runtime_field_values(ip))
    return MemberFactory(engine, pod, pod_id, paths, ip, ns_paths, images, sources)


def _remove_pod_cgroups(pod_id: str) -> None:
    from kubeplay.oci.cgroups import remove_pod_cgroups

    remove_pod_cgroups(pod_id)


def _refresh_peers(engine: Engine, changed: list[PodPlan]) -> None:
    """Pods on the same network learn each other's names: rewrite their /etc/hosts in place."""
    for name in {network.network_name(plan) for plan in changed} - {"", "none"}:
        network.refresh_peer_hosts(engine, name)

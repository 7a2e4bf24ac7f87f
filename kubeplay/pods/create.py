"""Creating a pod's containers: the infra, init containers one by one, then the members (created
beside the infra when the pod's namespaces are pinned, after it otherwise)."""

from __future__ import annotations

import functools
import secrets
import time
from contextlib import ExitStack
from pathlib import Path

from kubeplay.errors import UserError
from kubeplay.model.image import ImageRecord
from kubeplay.model.plan import ContainerPlan, PodPlan
from kubeplay.model.record import ContainerRole, ContainerStatus
from kubeplay.names import pod_arguments
from kubeplay.pods import containers
from kubeplay.threads import run_together
from kubeplay.pods.engine import Engine
from kubeplay.pods.infra import infra_name, infra_rootfs
from kubeplay.pods.network import PodNet
from kubeplay.pods.paths import ContainerPaths, PodPaths
from kubeplay.pods.podfiles import pod_hostname
from kubeplay.pods.status import read_exit_file
from kubeplay.pods.volumes import container_binds


class InitContainerFailed(UserError):
    """An init container ended badly: the pod is kept (Failed) so its logs can be read."""


class InitContainerExited(Exception):
    """An init container ended with a non-zero code under restartPolicy Always or OnFailure: the pod
    is kept and the container is to be retried with back-off (kubeplay.pods.initretry)."""

    def __init__(self, factory: MemberFactory, container_id: str, position: int, code: int) -> None:
        super().__init__(f"init container {position} of pod {factory.pod.name} exited with code {code}")
        self.factory = factory
        self.container_id = container_id
        self.position = position
        self.code = code


@functools.cache
def host_ip() -> str:
    """The host's address (status.hostIP); looked up once per command."""
    from kubeplay.net.hostaddr import host_address

    return host_address()


def runtime_field_values(ip: str) -> dict[str, str]:
    """The downward-API fields known only when the pod runs, for its env and its volume files."""
    host = host_ip()
    # one address family: each list field holds its single address, as the kubelet writes it
    return {"status.podIP": ip or "", "status.podIPs": ip or "", "status.hostIP": host, "status.hostIPs": host}


def _shared_mounts(paths: PodPaths, pod: PodPlan):
    from kubeplay.oci.options import bind_mount

    shared = [
        bind_mount(str(paths.hosts), "/etc/hosts"),
        bind_mount(str(paths.hostname), "/etc/hostname"),
        bind_mount(str(paths.resolv), "/etc/resolv.conf"),
    ]
    if not pod.host_ipc:
        shared.append(bind_mount(str(paths.shm), "/dev/shm"))
    return shared


def start_infra(engine: Engine, pod: PodPlan, pod_id: str, netns: Path | None, undo: ExitStack) -> int:
    """The infra container joins `netns` (None: the host's); its network may still be attaching."""
    container_id = register_infra(engine, pod, undo)
    return launch_infra(engine, pod, pod_id, container_id, {"network": str(netns)} if netns else {})


def register_infra(engine: Engine, pod: PodPlan, undo: ExitStack) -> str:
    container_id = secrets.token_hex(16)
    engine.store.add_container(container_id, pod.key, infra_name(pod), ContainerRole.INFRA, 0, None, None)
    undo.callback(containers.remove, engine, container_id)
    return container_id


def launch_infra(engine: Engine, pod: PodPlan, pod_id: str, container_id: str, pinned: dict[str, str]) -> int:
    """Build the infra's bundle and start it, joining the `pinned` namespaces (kind -> path)."""
    from kubeplay.oci.build import SpecContext, build_infra_spec
    from kubeplay.oci.bundle import write_bundle

    ctx = SpecContext(
        container_id=container_id,
        pod_id=pod_id,
        hostname=pod_hostname(pod),
        namespace_paths=pinned,
        mounts=(),
        extra_env=(),
        rootless=engine.settings.rootless,
        seccomp_profile_path=None,
        share_pid=pod.share_process_namespace,
    )
    spec = build_infra_spec(pod, infra_rootfs(engine), ctx)
    write_bundle(ContainerPaths(engine.settings, container_id).bundle, spec)
    return containers.launch(engine, container_id, infra_name(pod), exit_callback=False)


def namespace_paths(engine: Engine, pod_id: str, pod: PodPlan, infra_pid: int, net: PodNet) -> dict[str, str]:
    """What a member joins: the pinned namespaces of the pod where there are, else the infra's."""
    from kubeplay.net.netns import pinned_path
    from kubeplay.nsfs import is_namespace_mount

    def shared(kind: str, proc_name: str) -> str:
        pinned = pinned_path(engine.settings, pod_id, kind)
        return str(pinned) if is_namespace_mount(pinned) else f"/proc/{infra_pid}/ns/{proc_name}"

    paths: dict[str, str] = {}
    if net.netns:
        paths["network"] = str(net.netns)
        paths["uts"] = shared("uts", "uts")
    if not pod.host_ipc:
        paths["ipc"] = shared("ipc", "ipc")
    if pod.share_process_namespace and not pod.host_pid:
        paths["pid"] = f"/proc/{infra_pid}/ns/pid"
    return paths


def pinned_kinds(engine: Engine, pod: PodPlan) -> list[str]:
    """The namespaces to pin before the infra exists, so members are created beside it, not after
    it; [] when the infra must come first (rootless: the namespaces are made inside the user
    namespace by the runtime; a shared PID namespace: it needs the infra as its init)."""
    if engine.settings.rootless or (pod.share_process_namespace and not pod.host_pid):
        return []
    kinds = [] if pod.host_network else ["network", "uts"]
    return kinds + ([] if pod.host_ipc else ["ipc"])


class MemberFactory:
    """Builds the bundles of one pod's init and member containers; shares what they have in common."""

    def __init__(self, engine: Engine, pod: PodPlan, pod_id: str, paths: PodPaths, ip: str,
                 ns_paths: dict[str, str], images: dict[str, ImageRecord], sources: dict[str, Path]) -> None:
        self.engine, self.pod, self.pod_id = engine, pod, pod_id
        self.images, self.sources, self.ip = images, sources, ip
        self.ns_paths = ns_paths
        self.shared = _shared_mounts(paths, pod)
        self.field_values = runtime_field_values(ip)
        from kubeplay.config import containers_conf

        conf = containers_conf()
        self.default_ulimits = conf.default_ulimits
        self.pids_limit = conf.pids_limit if conf.pids_limit > 0 else None
        self.service_env: list[tuple[str, str]] = []
        if pod.enable_service_links:
            from kubeplay.pods.servicenames import ServiceNames

            self.service_env = ServiceNames(engine).environment(pod.namespace)
        self.delegated_cgroup = ""
        if engine.settings.rootless:
            from kubeplay.rootless.cgroups import warn_without_limits

            # a delegated cgroup v2 subtree takes the pod's limits; without one, one warning per pod
            self.delegated_cgroup = warn_without_limits(pod)

    def register(self, container: ContainerPlan, role: ContainerRole, position: int) -> str:
        container_id = secrets.token_hex(16)
        image = self.images[container.name]
        self.engine.store.add_container(container_id, self.pod.key, container.name, role, position, image.id, container)
        return container_id

    def build(self, container_id: str, container: ContainerPlan) -> None:
        from kubeplay.oci.build import SpecContext, build_member_spec
        from kubeplay.oci.bundle import write_bundle
        from kubeplay.oci.options import bind_mount

        image = self.images[container.name]
        rootfs = containers.mount_rootfs(self.engine, container_id, image.diff_ids)
        volume_mounts = [bind_mount(b.source, b.destination, b.read_only, b.propagation)
                         for b in container_binds(self.pod, container, self.sources)]
        extra_env = tuple((var.name, self.field_values.get(var.field_path, ""))
                          for var in container.env if var.field_path)
        own = {var.name for var in container.env}  # the manifest's own variables win over a Service's
        extra_env += tuple((name, value) for name, value in self.service_env if name not in own)
        notify = self._notify_mount(container)
        if notify is not None:
            volume_mounts.append(notify[0])
            extra_env += (notify[1],)
        ctx = SpecContext(
            container_id=container_id,
            pod_id=self.pod_id,
            hostname=pod_hostname(self.pod),
            namespace_paths=self.ns_paths,
            mounts=tuple(self.shared + volume_mounts),
            extra_env=extra_env,
            rootless=self.engine.settings.rootless,
            seccomp_profile_path=None,
            share_pid=self.pod.share_process_namespace,
            default_ulimits=self.default_ulimits,
            pids_limit=self.pids_limit,
            delegated_cgroup=self.delegated_cgroup,
        )
        spec = build_member_spec(container, self.pod, image.config, rootfs, ctx)
        write_bundle(ContainerPaths(self.engine.settings, container_id).bundle, spec)

    def _notify_mount(self, container: ContainerPlan):
        """The bind mount and NOTIFY_SOCKET of a container that tells the service manager itself."""
        handoff = self.engine.handoff
        directory = handoff.notify_dir_for(self.pod.key, container.name) if handoff is not None else None
        if directory is None:
            return None
        from kubeplay.oci.options import bind_mount
        from kubeplay.pods.handoff import CONTAINER_NOTIFY_DIR, CONTAINER_NOTIFY_SOCKET

        return bind_mount(str(directory), CONTAINER_NOTIFY_DIR), ("NOTIFY_SOCKET", CONTAINER_NOTIFY_SOCKET)

    def create_and_start(self, container_id: str, container: ContainerPlan) -> int:
        self.build(container_id, container)
        return containers.launch(self.engine, container_id, container.name, tty=container.tty, stdin=container.stdin)

    def create(self, container_id: str, container: ContainerPlan) -> int:
        self.build(container_id, container)
        return self.create_built(container_id, container)

    def create_built(self, container_id: str, container: ContainerPlan) -> int:
        """Create the container from the bundle `build` wrote."""
        handoff = self.engine.handoff
        listen_fds = handoff.listen_fds_for(self.pod.key, container.name) if handoff is not None else 0
        return containers.create(self.engine, container_id, container.name, tty=container.tty, stdin=container.stdin,
                                 listen_fds=listen_fds)


def run_init_containers(factory: MemberFactory, undo: ExitStack, first: int = 0) -> None:
    """The init containers, from position `first` on, each to its successful end in turn."""
    engine, pod = factory.engine, factory.pod
    for position, container in enumerate(pod.init_containers):
        if position < first:
            continue
        if container.restart_policy == "Always":
            # a native sidecar: starts in order and keeps running beside the members
            container_id = factory.register(container, ContainerRole.INIT, position)
            undo.callback(containers.remove, engine, container_id)
            factory.create_and_start(container_id, container)
            continue
        container_id = factory.register(container, ContainerRole.INIT, position)
        undo.callback(containers.remove, engine, container_id)
        factory.build(container_id, container)
        _run_to_completion(factory, container_id, container, position)


def _run_to_completion(factory: MemberFactory, container_id: str, container: ContainerPlan, position: int) -> None:
    """Run the init container once. A failure ends the pod under restartPolicy Never; otherwise the
    container is to be retried with back-off in the background, and this raises InitContainerExited
    so that play hands it over (kubeplay.pods.initretry) and goes on without waiting."""
    engine, pod = factory.engine, factory.pod
    # no exit callback: its end is recorded here, and a callback's "Error" must not overwrite the back-off
    containers.launch(engine, container_id, container.name, exit_callback=False)
    code = wait_exit(engine, container_id, pod.active_deadline_seconds or 3600)
    engine.store.set_container_state(container_id, status=ContainerStatus.EXITED, exit_code=code,
                                     finished_at=time.time(), pid=None,
                                     reason="Completed" if code == 0 else "Error")
    if code == 0:
        return
    if pod.restart_policy == "Never":
        raise InitContainerFailed(
            f'pod "{pod.name}" failed: init container "{container.name}" exited with code {code}',
            hint=f"`kubeplay logs {pod_arguments(pod.namespace, pod.name)} -c {container.name}` shows why; "
                 f"`kubeplay down` removes the pod",
        )
    raise InitContainerExited(factory, container_id, position, code)


def wait_exit(engine: Engine, container_id: str, timeout: float) -> int:
    """The exit code conmon writes when the container ends."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while time.monotonic() < deadline:
        code = read_exit_file(engine.settings, container_id)
        if code is not None:
            return code
        time.sleep(pause)
        pause = min(pause * 1.5, 0.2)
    engine.runtime.kill(container_id, "SIGKILL", all=True)
    raise UserError(f"container {container_id[:12]} did not finish within {int(timeout)} s",
                    hint="raise activeDeadlineSeconds, or check the container's logs")


def register_members(factory: MemberFactory, undo: ExitStack) -> list[tuple[str, ContainerPlan]]:
    ids = []
    for position, container in enumerate(factory.pod.containers):
        container_id = factory.register(container, ContainerRole.MEMBER, position)
        undo.callback(containers.remove, factory.engine, container_id)
        ids.append((container_id, container))
    return ids


def start_members(factory: MemberFactory, undo: ExitStack) -> None:
    """Members are created and started concurrently, as the kubelet does."""
    ids = register_members(factory, undo)
    if len(ids) == 1:
        factory.create_and_start(*ids[0])
        return
    run_together([functools.partial(factory.create_and_start, cid, c) for cid, c in ids])

"""`play` under a service manager: what it tells it (sd_notify), what it hands on (socket activation,
the notify sockets of containers that speak sd_notify) and, with --service, the process it watches.

The sequence a service manager sees: STATUS lines while the play works (pulling image…, pod x:
running), then STATUS "N/M pods ready" as readiness changes, then MAINPID and READY=1 once every pod
is ready (probes included) and every container marked `io.containers.sdnotify` said READY=1 itself.
With --service the process stays: it relays the containers' STATUS lines, ends (taking the pods
down) on SIGTERM, and ends by itself once its pods were taken down by `kubeplay down`, saying
STOPPING=1 either way. A container that exits is restarted by its restartPolicy, as without a
service manager: systemd restarts kubeplay only when kubeplay itself fails.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from pathlib import Path

from kubeplay.model.plan import PodPlan
from kubeplay.pods.engine import Engine
from kubeplay.pods.handoff import Handoff
from kubeplay.systemd.notify import NotifyRelay, Notifier

SDNOTIFY_ANNOTATION = "io.containers.sdnotify"
SDNOTIFY_CONTAINER_PREFIX = "io.containers.sdnotify/"
POLL = 0.5  # seconds between looks at the store while waiting for readiness
CHECK_EVERY = 5.0  # seconds between looks at whether the pods still exist, once ready


def sdnotify_containers(plan: PodPlan) -> list[str]:
    """The containers of `plan` that decide readiness by sd_notify: `io.containers.sdnotify:
    container` marks every container of the pod, `io.containers.sdnotify/NAME: container` one."""
    names = [c.name for c in plan.containers]
    if plan.annotations.get(SDNOTIFY_ANNOTATION) == "container":
        return names
    return [name for name in names if plan.annotations.get(SDNOTIFY_CONTAINER_PREFIX + name) == "container"]


class ServiceSession:
    """One play's conversation with the service manager; harmless when there is none."""

    def __init__(self, notifier: Notifier, listen_count: int = 0) -> None:
        self.notifier = notifier
        self.listen_count = listen_count
        self.relays: dict[tuple[str, str], NotifyRelay] = {}
        self.last_status = ""

    @classmethod
    def from_environment(cls, warn: Callable[[str], None]) -> ServiceSession:
        """Takes NOTIFY_SOCKET and LISTEN_* out of the environment (no child must see them)."""
        from kubeplay.systemd.activation import inherited_socket_count

        return cls(Notifier.from_environment(warn), inherited_socket_count())

    def prepare(self, engine: Engine, plans: list[PodPlan]) -> None:
        """Check the annotations; give the engine the sockets to hand to the containers."""
        from kubeplay.systemd.activation import plan_activation

        activation = plan_activation(plans, self.listen_count)
        if self.notifier.active:
            for plan in plans:
                for name in sdnotify_containers(plan):
                    self.relays[(plan.key, name)] = NotifyRelay(relay_directory(engine, plan.key, name))
        if activation is None and not self.relays:
            return
        engine.handoff = Handoff(
            listen_target=(activation.pod, activation.container) if activation else None,
            listen_count=activation.count if activation else 0,
            notify_dirs={key: relay.directory for key, relay in self.relays.items()})

    def progress_to(self, also: Callable[[str], None] | None) -> Callable[[str], None]:
        """A play's progress callback that also goes to the service manager as STATUS lines."""
        def progress(message: str) -> None:
            self.status(message)
            if also is not None:
                also(message)

        return progress

    def status(self, text: str) -> None:
        if text != self.last_status:
            self.last_status = text
            self.notifier.status(text)

    def wants_readiness(self) -> bool:
        """Whether play must wait for readiness even without --wait: READY=1 is sent only then."""
        return self.notifier.active

    def wait_ready(self, engine: Engine, names: list[str], timeout: float, staying: bool,
                   report: Callable[[str], None] | None = None) -> None:
        """Wait until every pod is ready and every sd_notify container said READY=1, saying how far
        it got; then READY=1, with MAINPID (this process) when it stays to be watched (--service):
        a play that returns names no process (a unit with RemainAfterExit= watches none)."""
        from kubeplay.controllers.wait import wait_for

        def progress(ready: int, total: int) -> None:
            self.status(f"{ready}/{total} pods ready")

        wait_for(engine, names, "ready", timeout, progress=progress, report=report)
        self._wait_containers_ready(timeout)
        self.notifier.ready(main_pid=os.getpid() if staying else None, status=f"{len(names)}/{len(names)} pods ready")

    def _wait_containers_ready(self, timeout: float) -> None:
        from kubeplay.controllers.wait import WaitFailed

        deadline = time.monotonic() + timeout
        while not all(relay.ready for relay in self.relays.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                waiting = ", ".join(f"{pod}/{name}" for (pod, name), relay in self.relays.items() if not relay.ready)
                raise WaitFailed(f"timed out after {timeout:g}s waiting for READY=1 from {waiting} "
                                 f"({SDNOTIFY_ANNOTATION})",
                                 hint="the container must send READY=1 to $NOTIFY_SOCKET; `kubeplay logs` shows "
                                      "what it did")
            waiting = [relay for relay in self.relays.values() if not relay.ready]
            self.status(f"waiting for READY=1 from {len(waiting)} container(s)")
            self._relay(min(remaining, POLL * 4))

    def _relay(self, timeout: float) -> None:
        """Read what the containers sent within `timeout`; their STATUS lines go to the manager."""
        if not self.relays:
            time.sleep(timeout)
            return
        readable, _, _ = select.select(list(self.relays.values()), [], [], timeout)
        for relay in readable:
            key = next(k for k, r in self.relays.items() if r is relay)
            for fields in relay.receive():
                if "STATUS" in fields:
                    self.status(f"{key[0]}/{key[1]}: {fields['STATUS']}")

    def serve(self, engine: Engine, names: list[str], timeout: float, take_down: Callable[[], None]) -> None:
        """Wait for readiness, say READY=1, then stay as the process the service manager watches,
        until SIGTERM (the pods are taken down) or until the pods are gone."""
        try:
            self.wait_ready(engine, names, timeout, staying=True)
            while any(engine.store.find_pod(name) is not None for name in names):
                deadline = time.monotonic() + CHECK_EVERY
                while time.monotonic() < deadline:
                    self._relay(max(0.0, deadline - time.monotonic()))
            self.notifier.stopping("the pods were taken down")
        except KeyboardInterrupt:  # SIGTERM from the service manager, or Ctrl-C
            self.notifier.stopping("taking the pods down")
            take_down()
        finally:
            self.close()

    def close(self) -> None:
        for relay in self.relays.values():
            relay.close()
            try:
                relay.directory.rmdir()
                relay.directory.parent.rmdir()
            except OSError:
                pass


def notify_stopping(warn: Callable[[str], None]) -> Notifier:
    """`down` under a service manager: STOPPING=1 before the pods go."""
    notifier = Notifier.from_environment(warn)
    notifier.stopping("taking the pods down")
    return notifier


def relay_directory(engine: Engine, pod: str, container: str) -> Path:
    from kubeplay.pods.paths import notify_relays_dir

    return notify_relays_dir(engine.settings, pod) / container

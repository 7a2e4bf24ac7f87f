"""Socket activation: the listening sockets a service manager hands to kubeplay, and the container
of the manifest that receives them.

systemd (or `systemd-socket-activate`) opens the sockets, passes them as file descriptors 3, 4, …
and sets LISTEN_FDS (how many) and LISTEN_PID (the process they are meant for). kubeplay passes them
on to the one container that a pod names with the annotation `kubeplay.io/socket-activation`
(value: the container's name). conmon keeps them open for the runtime and, with
`--replace-listen-pid`, sets LISTEN_PID to the runtime's pid; runc then hands them to the container
as fds 3, 4, … with LISTEN_FDS=N and LISTEN_PID=1: the container's process is pid 1 of its own pid
namespace, which is why a pod with shareProcessNamespace (where it is not) is refused.

The variables are taken out of kubeplay's environment at once, as sd_listen_fds(unset=1) does, so
no other child process takes the sockets for its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubeplay.errors import UserError
from kubeplay.model.plan import PodPlan

SOCKET_ACTIVATION_ANNOTATION = "kubeplay.io/socket-activation"
LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START
LISTEN_VARIABLES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


@dataclass(frozen=True)
class Activation:
    """The sockets kubeplay received (fds 3 … 3+count-1) and the container that gets them."""

    count: int
    pod: str = ""
    container: str = ""

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(range(LISTEN_FDS_START, LISTEN_FDS_START + self.count))


def inherited_socket_count() -> int:
    """How many sockets the service manager passed to this process (0: none), the variables removed."""
    values = {name: os.environ.pop(name, "") for name in LISTEN_VARIABLES}
    count, pid = values["LISTEN_FDS"], values["LISTEN_PID"]
    if not count:
        return 0
    if not count.isdigit() or not pid.isdigit():
        raise UserError(f"LISTEN_FDS={count!r} and LISTEN_PID={pid!r} are not numbers",
                        hint="socket activation sets both to whole numbers; unset them to play without it")
    if int(pid) != os.getpid():
        return 0  # meant for another process (a parent that did not unset them)
    number = int(count)
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + number):
        try:
            os.fstat(fd)
        except OSError:
            raise UserError(f"LISTEN_FDS={number} but file descriptor {fd} is not open",
                            hint="start kubeplay from the socket unit (or systemd-socket-activate) that opens "
                                 "the sockets") from None
    return number


def activation_targets(plans: list[PodPlan]) -> list[tuple[str, str]]:
    """(pod, container) of every pod that names a container for its sockets; each name is checked."""
    targets = []
    for plan in plans:
        wanted = plan.annotations.get(SOCKET_ACTIVATION_ANNOTATION)
        if wanted is None:
            continue
        names = [container.name for container in plan.containers]
        where = f"pod {plan.name}: annotation {SOCKET_ACTIVATION_ANNOTATION}"
        if plan.source.file:
            where = f"{plan.source.file}: {where}"
        if wanted not in names:
            raise UserError(f'{where} names container "{wanted}", which the pod does not have',
                            hint=f"name one of its containers: {', '.join(names)}")
        if plan.share_process_namespace:
            raise UserError(f"{where}: with shareProcessNamespace the container is not pid 1 of its pid "
                            "namespace, so LISTEN_PID cannot name it",
                            hint="remove shareProcessNamespace from this pod, or the annotation")
        targets.append((plan.key, wanted))
    return targets


def plan_activation(plans: list[PodPlan], count: int) -> Activation | None:
    """Which container gets the `count` inherited sockets; None when there are none to give."""
    targets = activation_targets(plans)  # checked whether or not sockets came: a bad name is an error anyway
    if count == 0:
        return None
    if not targets:
        raise UserError(f"kubeplay received {count} socket(s) (LISTEN_FDS) but no pod names a container for them",
                        hint=f"annotate the pod: {SOCKET_ACTIVATION_ANNOTATION}: CONTAINER")
    if len(targets) > 1:
        pods = ", ".join(pod for pod, _ in targets)
        raise UserError(f"the sockets can go to one container, but {len(targets)} pods ask for them ({pods})",
                        hint=f"keep {SOCKET_ACTIVATION_ANNOTATION} on one pod (a Deployment's replicas: use 1)")
    pod, container = targets[0]
    return Activation(count, pod, container)

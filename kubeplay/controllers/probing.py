"""What probe results mean, as the kubelet's prober decides it: for one container, its probes'
consecutive results against their thresholds, whether it is started and ready, and when it must be
killed. Pure: it answers with actions (Ready, Event, Kill, RunPostStart) that the monitor carries
out. It imports nothing, because the monitor process that holds it lives as long as its pod.

The rules (Kubernetes' pkg/kubelet/prober): a probe first runs initialDelaySeconds after the
container started, then every periodSeconds; successThreshold consecutive successes (failureThreshold
failures) change its result. Readiness starts as failure, liveness as success, startup as unknown.
While a startup probe has not succeeded, liveness and readiness are not run; once it has, it is
not run again. A liveness or startup failure kills the container, and its probes stop until the
next instance starts. A container is ready when its postStart hook returned, its startup probe
succeeded and its readiness probe succeeds (each only when it has one).
"""

from __future__ import annotations

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
TITLES = {LIVENESS: "Liveness", READINESS: "Readiness", STARTUP: "Startup"}

# the states of a container instance, for the monitor
DOWN = "down"  # not running
HOOKING = "hooking"  # running; its postStart hook has not returned yet
UP = "up"  # running; probes run
HELD = "held"  # being killed; nothing runs until the next instance


class Probe:
    """One probe of a container, with its timing and its run of equal results."""

    __slots__ = ("kind", "initial_delay", "period", "timeout", "success_threshold", "failure_threshold", "grace",
                 "result", "last", "run", "next_at", "busy")

    def __init__(self, kind: str, timing: dict) -> None:
        self.kind = kind
        self.initial_delay = timing["initial_delay"]
        self.period = timing["period"]
        self.timeout = timing["timeout"]
        self.success_threshold = timing["success_threshold"]
        self.failure_threshold = timing["failure_threshold"]
        self.grace = timing.get("grace")  # the probe's own terminationGracePeriodSeconds, or None
        self.reset(0.0)

    def reset(self, started_at: float) -> None:
        self.result = {READINESS: False, LIVENESS: True}.get(self.kind)  # startup: None, not yet known
        self.last: bool | None = None
        self.run = 0
        self.next_at = started_at + self.initial_delay
        self.busy = False

    def begin(self, now: float) -> None:
        self.busy = True
        self.next_at = now + self.period

    def finish(self, ok: bool) -> bool:
        """Count a result; True when the probe's result changed."""
        self.busy = False
        self.run = self.run + 1 if ok == self.last else 1
        self.last = ok
        if self.run < (self.success_threshold if ok else self.failure_threshold) or self.result == ok:
            return False
        self.result = ok
        if self.kind != READINESS:
            self.run = 0
        return True


class Ready:
    """The container's readiness changed: write it to the store."""

    __slots__ = ("ready",)

    def __init__(self, ready: bool) -> None:
        self.ready = ready

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ready) and other.ready == self.ready

    def __repr__(self) -> str:
        return f"Ready({self.ready})"


class Event:
    """Record an event of the container."""

    __slots__ = ("type", "reason", "message")

    def __init__(self, type: str, reason: str, message: str) -> None:
        self.type, self.reason, self.message = type, reason, message

    def __repr__(self) -> str:
        return f"Event({self.type}, {self.reason}, {self.message!r})"


class Kill:
    """Kill the container (preStop first) within `grace` seconds (None: the pod's grace)."""

    __slots__ = ("reason", "grace")

    def __init__(self, reason: str, grace: int | None) -> None:
        self.reason, self.grace = reason, grace

    def __repr__(self) -> str:
        return f"Kill({self.reason}, {self.grace})"


class RunPostStart:
    """Run the container's postStart hook."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RunPostStart()"


class ContainerProbes:
    """One watched container: the instance running now, its hook and its probes."""

    def __init__(self, name: str, probes: dict[str, dict], post_start: bool) -> None:
        self.name = name
        self.probes = {kind: Probe(kind, timing) for kind, timing in probes.items()}
        self.has_post_start = post_start
        self.state = DOWN
        self.reported_ready: bool | None = None

    # --- the instance -------------------------------------------------------------------------

    def instance_started(self, started_at: float, post_start_done: bool = False) -> list:
        """A new instance runs (first seen, or restarted): its probes begin afresh."""
        for probe in self.probes.values():
            probe.reset(started_at)
        self.reported_ready = None
        if self.has_post_start and not post_start_done:
            self.state = HOOKING
            return [RunPostStart(), *self._readiness()]
        self.state = UP
        return self._readiness()

    def instance_ended(self) -> list:
        """The instance is gone; readiness follows from its status, so nothing is written."""
        self.state = DOWN
        for probe in self.probes.values():
            probe.busy = False
        self.reported_ready = None
        return []

    def post_start_finished(self, ok: bool, message: str, grace: int | None = None) -> list:
        if self.state != HOOKING:
            return []
        if ok:
            self.state = UP
            return self._readiness()
        self.state = HELD
        return [Event("Warning", "FailedPostStartHook", message),
                Kill(f"Container {self.name} failed its postStart hook, will be killed", grace)]

    # --- probes -------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        startup = self.probes.get(STARTUP)
        return startup is None or startup.result is True

    def due(self, now: float) -> list[Probe]:
        """The probes to run now."""
        if self.state != UP:
            return []
        if not self.started:
            running = [self.probes[STARTUP]]
        else:
            running = [probe for probe in self.probes.values() if probe.kind != STARTUP]
        return [probe for probe in running if not probe.busy and now >= probe.next_at]

    def next_due(self) -> float | None:
        """When the next probe falls due, if any can."""
        if self.state != UP:
            return None
        kinds = [STARTUP] if not self.started else [kind for kind in self.probes if kind != STARTUP]
        times = [self.probes[kind].next_at for kind in kinds if not self.probes[kind].busy]
        return min(times) if times else None

    def probe_finished(self, probe: Probe, ok: bool, message: str) -> list:
        """A probe's answer, with the actions it calls for."""
        if self.state != UP:
            probe.busy = False
            return []  # the instance ended or is being killed meanwhile
        actions: list = []
        if not ok:
            actions.append(Event("Warning", "Unhealthy", f"{TITLES[probe.kind]} probe failed: {message}".rstrip(": ")))
        if not probe.finish(ok):
            return actions
        if probe.kind in (LIVENESS, STARTUP) and probe.result is False:
            self.state = HELD
            actions.append(Event("Normal", "Killing",
                                 f"Container {self.name} failed {probe.kind} probe, will be restarted"))
            actions.append(Kill(f"failed {probe.kind} probe", probe.grace))
            return actions
        return actions + self._readiness()

    # --- readiness ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        readiness = self.probes.get(READINESS)
        return self.state == UP and self.started and (readiness is None or readiness.result is True)

    def _readiness(self) -> list:
        """A Ready action when readiness differs from what was last written."""
        if self.reported_ready == self.ready:
            return []
        self.reported_ready = self.ready
        return [Ready(self.ready)]

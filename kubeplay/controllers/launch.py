"""Starting a pod's probe monitor (kubeplay.controllers.monitor), and starting it again when a
command finds it dead.

A pod gets a monitor when a member or a sidecar has a probe kubeplay runs or a postStart hook;
a pod with neither has none. The monitor's spec is written to the pod's run directory as
`marshal` data, which the monitor reads with no import at all.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay.errors import HostError
from kubeplay.logs import get_logger
from kubeplay.model.record import ContainerRole, PodPhase, PodRecord
from kubeplay.pods.engine import Engine
from kubeplay.pods.paths import PodPaths
from kubeplay.pods.termination import MONITOR_MODULE, monitor_pid

if TYPE_CHECKING:
    from kubeplay.model.plan import ContainerPlan, PodPlan

log = get_logger(__name__)

START_TIMEOUT = 10.0
# every kubeplay module the monitor process imports (a unit test keeps this list true)
MONITOR_IMPORTS = ("kubeplay", "kubeplay.controllers", MONITOR_MODULE, "kubeplay.controllers.probing")
HOOK_TIMEOUT = 3600  # seconds a postStart hook may run; the kubelet sets no bound, a hung hook is a bug


def watched_containers(plan: PodPlan) -> list[ContainerPlan]:
    """The containers the monitor watches: members and sidecars with probes it runs or postStart."""
    candidates = list(plan.containers) + [c for c in plan.init_containers if c.restart_policy == "Always"]
    return [c for c in candidates if c.post_start is not None or _probes(c)]


def needs_monitor(plan: PodPlan) -> bool:
    return bool(watched_containers(plan))


def _probes(container: ContainerPlan) -> dict[str, dict]:
    from kubeplay.model.serial import to_jsonable

    found = {}
    probes = (("liveness", container.liveness_probe), ("readiness", container.readiness_probe),
              ("startup", container.startup_probe))
    for kind, probe in probes:
        if probe is None or probe.action.kind == "grpc":  # refused at play, with a warning
            continue
        found[kind] = {"initial_delay": probe.initial_delay_seconds, "period": probe.period_seconds,
                       "timeout": probe.timeout_seconds, "success_threshold": probe.success_threshold,
                       "failure_threshold": probe.failure_threshold,
                       "grace": probe.termination_grace_period_seconds, "action": to_jsonable(probe.action)}
    return found


def monitor_spec(engine: Engine, pod: PodRecord) -> dict:
    """What the monitor needs, as plain data: where the store is, the pod's network, and per
    watched container its id, probes and hooks."""
    from kubeplay.model.serial import to_jsonable
    from kubeplay.pods.handlers import pod_target
    from kubeplay.runtime.mountroot import exec_enters_host_root

    ids = {(c.role is ContainerRole.MEMBER, c.name): c.id for c in pod.containers if c.role is not ContainerRole.INFRA}
    members = {c.name for c in pod.plan.containers}
    containers = []
    for plan in watched_containers(pod.plan):
        container_id = ids.get((plan.name in members, plan.name))
        if container_id is None:
            continue
        probes = _probes(plan)
        _prepare_exec(engine, container_id, probes)
        containers.append({"id": container_id, "name": plan.name, "probes": probes,
                           "post_start": to_jsonable(plan.post_start) if plan.post_start else None})
    target = pod_target(engine.settings, pod, "")
    settings = engine.settings
    return {"pod": pod.name, "pod_id": pod.id, "root": str(settings.root), "runroot": str(settings.runroot),
            "runtime": settings.runtime or "", "netns": str(target.netns) if target.netns else "", "ip": target.pod_ip,
            "grace": pod.plan.termination_grace_period_seconds, "hook_timeout": HOOK_TIMEOUT,
            # exec probes go straight to the runtime with this (kubeplay.runtime.bundle_exec)
            "runtime_argv": _runtime_argv(engine),
            # asked here, once: the monitor and its probes' children import nothing to know it
            "exec_refused": _has_exec_probe(containers) and exec_enters_host_root(),
            "containers": containers}


def _has_exec_probe(containers: list[dict]) -> bool:
    return any(probe["action"]["kind"] == "exec" for container in containers for probe in container["probes"].values())


def _prepare_exec(engine: Engine, container_id: str, probes: dict[str, dict]) -> None:
    """Each exec probe's process spec, written once here, so that a probe's child runs it with
    no more than os and subprocess (kubeplay.runtime.bundle_exec)."""
    from kubeplay.pods.paths import ContainerPaths
    from kubeplay.runtime.bundle_exec import process_json

    if not _runtime_argv(engine):
        return
    bundle = str(ContainerPaths(engine.settings, container_id).bundle)
    for probe in probes.values():
        command = probe["action"]["command"]
        if probe["action"]["kind"] == "exec" and command:
            probe["process_json"] = process_json(bundle, list(command))


def _runtime_argv(engine: Engine) -> list[str]:
    """The runtime and its global options, or [] where exec probes must go the full way (rootless:
    the runtime runs inside kubeplay's user namespace)."""
    if engine.settings.rootless:
        return []
    return engine.runtime.base_argv


def monitor_argv(engine: Engine, pod_ids: list[str]) -> list[str]:
    """The monitor's command line. The site machinery stays on: the children the monitor forks read
    the store, whose records pydantic decodes (a monitor started with -S could not import it, and a
    readiness flip then never reached the Services). -c rather than -m: runpy, which -m loads,
    would stay in the monitor's memory for its whole life."""
    code = f"import sys; from {MONITOR_MODULE} import main; sys.exit(main())"
    argv = [sys.executable, "-c", code, "--root", str(engine.settings.root),
            "--runroot", str(engine.settings.runroot)]
    if engine.settings.runtime:
        argv += ["--runtime", engine.settings.runtime]
    return argv + ["--detach", *pod_ids]


def _environment() -> dict[str, str]:
    import kubeplay

    package_parent = str(Path(kubeplay.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_parent, *filter(None, [env.get("PYTHONPATH")])])
    return env


def compile_monitor_modules() -> None:
    """Make sure the bytecode of the monitor's own modules is cached where the interpreter looks
    for it, as an installer does, whatever PYTHONDONTWRITEBYTECODE says: a process that compiles
    source keeps the memory the compiler used in its heap, and the monitor lives as long as its pod.
    Where the cache cannot be written (an installation this user cannot write to, which holds its
    bytecode already), the monitor compiles them itself."""
    import importlib.util

    for name in MONITOR_IMPORTS:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        cached = importlib.util.cache_from_source(spec.origin)
        try:
            if os.stat(cached).st_mtime >= os.stat(spec.origin).st_mtime:
                continue  # the import itself checks it exactly; a stale one only costs the monitor memory
        except OSError:
            pass
        import py_compile

        try:
            py_compile.compile(spec.origin, cfile=cached, doraise=True)
        except (py_compile.PyCompileError, OSError) as exc:
            log.debug("bytecode of %s not cached: %s", name, exc)


def start_monitor(engine: Engine, pod: PodRecord) -> bool:
    """Start the pod's monitor unless it needs none or runs already; True when one was started."""
    return bool(_start(engine, [pod]))


def start_monitors(engine: Engine, names: list[str]) -> list[str]:
    """Start the monitors of these pods (those that need one); the names of those started."""
    return _start(engine, _found(engine, names))


def _found(engine: Engine, names: list[str]) -> list[PodRecord]:
    return [pod for pod in (engine.store.find_pod(name) for name in names) if pod is not None]


def _start(engine: Engine, pods: list[PodRecord]) -> list[str]:
    """Start the monitors these pods need, all from one process (see kubeplay.controllers.monitor);
    the names of the pods whose monitor was started."""
    starting = [pod for pod in pods if needs_monitor(pod.plan) and pod.phase is PodPhase.RUNNING
                and monitor_pid(engine.settings, pod.id) is None and _write_spec(engine, pod)]
    if not starting:
        return []
    compile_monitor_modules()
    names = ", ".join(f'"{pod.shown_name}"' for pod in starting)
    what = f"pod {names}: its probe monitor" if len(starting) == 1 else f"the probe monitors of pods {names}"
    hint = "their probes are not run; `kubeplay pod inspect` starts a pod's monitor again"
    try:
        done = subprocess.run(monitor_argv(engine, [pod.id for pod in starting]), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_environment(),
                              timeout=START_TIMEOUT * len(starting), close_fds=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"{what} did not start: {exc}", hint=hint) from exc
    if done.returncode != 0:
        raise HostError(f"{what} did not {'start' if len(starting) == 1 else 'all start'}: "
                        f"{done.stderr.decode(errors='replace').strip() or f'exit {done.returncode}'}",
                        hint=hint)
    return [pod.name for pod in starting]


def _write_spec(engine: Engine, pod: PodRecord) -> bool:
    """The monitor's spec in the pod's run directory; False if that is gone (the pod is going)."""
    run_dir = PodPaths(engine.settings, pod.id).run_dir
    if not run_dir.is_dir():
        return False
    spec = monitor_spec(engine, pod)
    temporary = run_dir / f"monitor.spec.{os.getpid()}"
    temporary.write_bytes(marshal.dumps(spec))
    os.replace(temporary, run_dir / "monitor.spec")
    return True


def monitor_state(settings, pod) -> str:
    """"running", "not running", or "none" when the pod has no monitor to run (it needs none, or
    it is not running). `pod` is a PodRecord or a PodOverview: a pod needs a monitor when play
    wrote it a spec, which spares a listing decoding plans."""
    from kubeplay.pods.status import derive_phase

    if derive_phase(pod) is not PodPhase.RUNNING or not (PodPaths(settings, pod.id).run_dir / "monitor.spec").exists():
        return "none"
    return "running" if monitor_pid(settings, pod.id) is not None else "not running"


def ensure_monitor(engine: Engine, pod: PodRecord) -> bool:
    """Start the monitor again if the pod has one and it is dead; True when it was restarted."""
    if monitor_state(engine.settings, pod) != "not running":
        return False
    return start_monitor(engine, pod)


def ensure_monitors(engine: Engine, names: list[str]) -> list[str]:
    """ensure_monitor for the named pods that exist; the names of those restarted."""
    return _start(engine, [pod for pod in _found(engine, names)
                           if monitor_state(engine.settings, pod) == "not running"])


def start_job_monitors(engine: Engine, container_id: str) -> list[str]:
    """The exit callback's hook: when a Job pod's container ends, the Job controller may have
    started further pods of that Job in the same callback; those that need a monitor get it now,
    not only once a command touches them. The names of the pods whose monitor was started."""
    from kubeplay.controllers.jobs import is_job_pod, job_pods

    record = engine.store.get_container(container_id)
    pod = engine.store.find_pod(record.pod) if record else None
    if pod is None or pod.plan.owner is None or not is_job_pod(pod.plan):
        return []
    others = [other for other in job_pods(engine, pod.plan.namespace, pod.plan.owner.name) if other.name != pod.name]
    try:
        return _start(engine, others)
    except HostError as exc:  # the pods run all the same; the next command on them tries again
        log.warning("%s", exc.message)
        return []

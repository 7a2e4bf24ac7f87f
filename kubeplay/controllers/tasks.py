"""What the probe monitor's short-lived children do: run one probe or hook, kill a container,
write results and events to the store, read the pod's phase. Each runs in a process forked from
the monitor and then ends, so whatever it imports (the store, the runtime, http.client) never
weighs on the monitor, which lives as long as its pod.

`spec` is the monitor's spec (kubeplay.controllers.launch.monitor_spec): plain data, with each
container's probes and hooks as dicts of their ActionPlan.
"""

from __future__ import annotations

# nothing at the top: an exec probe's child imports only what kubeplay.runtime.bundle_exec needs


def _settings(spec: dict):
    from pathlib import Path

    from kubeplay.config import Settings

    return Settings(root=Path(spec["root"]), runroot=Path(spec["runroot"]), runtime=spec["runtime"] or None)


_engines: dict[tuple, object] = {}


def engine_of(spec: dict):
    """The engine of the spec's store, made once per child."""
    key = (spec["root"], spec["runroot"], spec["runtime"])
    if key not in _engines:
        from kubeplay.pods.engine import Engine

        _engines[key] = Engine(_settings(spec))
    return _engines[key]


def _action(data: dict):
    from kubeplay.model.plan import ActionPlan
    from kubeplay.model.serial import from_jsonable

    return from_jsonable(ActionPlan, data)


def _target(spec: dict, container: dict):
    from pathlib import Path

    from kubeplay.pods.handlers import Target

    return Target(container["id"], Path(spec["netns"]) if spec["netns"] else None, spec["ip"])


def _runtime(spec: dict, action) -> object:
    """The runtime, which only exec handlers need (opening it reads its cached probe)."""
    return engine_of(spec).runtime if action.kind == "exec" else None


def run_probe(spec: dict, container: dict, kind: str) -> tuple[bool, str]:
    probe = container["probes"][kind]
    if probe.get("process_json") and spec.get("runtime_argv"):
        return run_exec_probe(spec, container, probe, float(probe["timeout"]))
    from kubeplay.pods.handlers import run_handler

    action = _action(probe["action"])
    result = run_handler(_runtime(spec, action), action, _target(spec, container), float(probe["timeout"]))
    return result.ok, result.message


def run_exec_probe(spec: dict, container: dict, probe: dict, timeout: float) -> tuple[bool, str]:
    """An exec probe the light way, run every period: straight through the runtime with the
    container's bundle and the process spec written at launch, neither the store nor the plan
    models loaded (the results are those kubeplay.pods.handlers gives)."""
    from kubeplay.runtime.bundle_exec import ExecTimeout, exec_output

    if spec.get("exec_refused"):
        from kubeplay.runtime.mountroot import CHROOT_MESSAGE

        return False, f"cannot run the exec probe: {CHROOT_MESSAGE}"
    command = list(probe["action"]["command"])
    bundle = f"{spec['runroot']}/containers/{container['id']}"
    try:
        code, output, errors = exec_output(spec["runtime_argv"], bundle, container["id"], probe["process_json"],
                                           command, timeout)
    except ExecTimeout as exc:
        return False, str(exc)
    except OSError as exc:
        return False, f"cannot run the exec probe: {exc}"
    if errors:
        from kubeplay.runtime.classify import FailureContext, classify

        name = spec["runtime_argv"][0].rsplit("/", 1)[-1]
        return False, classify(errors, FailureContext(name, "exec", container["id"])).message
    if code != 0:
        return False, output.strip() or f"command {command!r} exited with {code}"
    return True, output.strip()


def run_post_start(spec: dict, container: dict) -> tuple[bool, str]:
    """The postStart hook; a failure's message is the event the kubelet would write."""
    from kubeplay.pods.handlers import describe_hook, run_handler

    action = _action(container["post_start"])
    result = run_handler(_runtime(spec, action), action, _target(spec, container), float(spec["hook_timeout"]))
    if result.ok:
        return True, ""
    return False, (f'{describe_hook(action)} for Container "{container["name"]}" in Pod "{spec["pod"]}" '
                   f"failed - error: {result.message}")


def kill_container(spec: dict, container: dict, grace: float) -> None:
    """Kill one container as the kubelet kills for a failed probe or hook: its preStop hook first,
    then the stop signal, then SIGKILL once the grace period is over. Its exit is recorded, and it
    is restarted as restartPolicy says, by the exit callback, as for any exit."""
    from kubeplay.model.record import PodPhase
    from kubeplay.pods import containers
    from kubeplay.pods.termination import MIN_GRACE_AFTER_HOOK, run_pre_stop

    engine = engine_of(spec)
    pod = engine.store.find_pod(spec["pod"])
    if pod is None or pod.phase is not PodPhase.RUNNING:
        return  # being stopped or removed: that command stops it
    record = next((c for c in pod.containers if c.id == container["id"]), None)
    if record is None or record.pid is None:
        return
    import time

    started = time.monotonic()
    if record.plan is not None and record.plan.pre_stop is not None and grace > 0:
        run_pre_stop(engine, pod, record, _target(spec, container), grace)
        grace = max(grace - (time.monotonic() - started), MIN_GRACE_AFTER_HOOK)
    signal = (record.plan.stop_signal if record.plan else "") or "SIGTERM"
    containers.stop(engine, record.id, grace, signal, pid=record.pid)


def write(spec: dict, changes: list[tuple]) -> None:
    """Readiness changes and events, in the order the monitor found them:
    ("ready", container id, ready, at) and ("event", container name, type, reason, message, at)."""
    from kubeplay.errors import StoreError
    from kubeplay.store.events import EventStore

    engine = engine_of(spec)
    events = EventStore(engine.db)
    readiness_changed = ""
    for change in changes:
        try:
            if change[0] == "ready":
                _, container_id, ready, at = change
                engine.store.set_container_state(container_id, ready=ready, ready_changed_at=at)
                readiness_changed = container_id
            else:
                _, name, type_, reason, message, at = change
                events.add(spec["pod"], name, type_, reason, message, at)
        except StoreError:
            pass  # the pod went meanwhile; the monitor notices and leaves
    if readiness_changed:
        from kubeplay.controllers.endpoints import container_changed

        container_changed(engine, readiness_changed)  # a Service sends traffic to ready pods only


def pod_phase(spec: dict) -> str:
    """The pod's phase as `pods` shows it, or "" when the pod is gone (or is another pod by now)."""
    from kubeplay.pods.status import derive_phase, reconcile_pod

    engine = engine_of(spec)
    pod = engine.store.find_pod(spec["pod"])
    if pod is None or pod.id != spec["pod_id"]:
        return ""
    keep_log_rotation(engine, pod)
    return derive_phase(reconcile_pod(engine.store, engine.settings, pod)).value


def keep_log_rotation(engine, pod) -> None:
    """The monitor's rounds are visits too: each names the log files its pod's containers are
    writing, so a probed pod's logs rotate even when nobody reads them (kubeplay.pods.logfiles)."""
    from kubeplay.config import containers_conf
    from kubeplay.pods.logfiles import keep_rotation
    from kubeplay.pods.paths import ContainerPaths

    max_files = containers_conf().log_max_files
    for container in pod.containers:
        keep_rotation(ContainerPaths(engine.settings, container.id).log, max_files)

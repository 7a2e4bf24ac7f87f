"""`apply`: make what runs what the files say, changing only what changed.

Each object of the files is compared with what is stored under its kind and name (the stored plan,
never the file it came from last time), as kubeplay.translate.diff counts change. Everything that
could refuse the apply is checked first (immutable fields, images of rolled templates are pulled by
the roll before its first pod goes), then, in order: Services, claims, new objects (made as play
makes them), pods whose data volumes changed (files rewritten in place), Deployments (scaled or
rolled by kubeplay.controllers.rollout), replaced bare pods, and with `prune` the objects of these
files that the files no longer hold.

Apply rolls in the foreground: with no daemon, the command that changed a Deployment is the one
that can wait for each new pod to be Ready before an old one goes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from kubeplay.controllers.rollout import Say, converge, deployment_pods, remove_pods
from kubeplay.errors import UserError
from kubeplay.model.plan import PodPlan
from kubeplay.model.record import PodRecord
from kubeplay.model.workload import DeploymentPlan, DeploymentRecord, require_rolling_values
from kubeplay.pods.engine import Engine
from kubeplay.store.deployments import DeploymentStore
from kubeplay.translate.context import TranslateResult
from kubeplay.translate.diff import (
    FILES,
    TEMPLATE,
    UNCHANGED,
    changed_volumes,
    check_deployment,
    check_job,
    deployment_change,
    service_change,
    template_change,
)

KIND_TEXT = {"Deployment": "deployment.apps", "ReplicaSet": "replicaset.apps", "DaemonSet": "daemonset.apps",
             "Job": "job.batch", "Pod": "pod", "Service": "service", "ConfigMap": "configmap", "Secret": "secret",
             "PersistentVolumeClaim": "persistentvolumeclaim"}


def object_line(kind: str, name: str, verb: str, note: str = "") -> str:
    """`deployment.apps/web configured`, as kubectl prints it, and why in brackets when it helps."""
    return f"{KIND_TEXT.get(kind, kind.lower())}/{name} {verb}" + (f" ({note})" if note else "")


@dataclass
class ApplyPlan:
    """What apply will do, decided before anything changes."""

    new_pods: list[PodPlan] = field(default_factory=list)  # made as play makes them
    new_deployments: list[DeploymentPlan] = field(default_factory=list)
    rolled: list[tuple[DeploymentPlan, str]] = field(default_factory=list)  # (plan, note) to save and converge
    files_in_place: list[tuple[PodRecord, PodPlan]] = field(default_factory=list)
    replaced_pods: list[tuple[list[PodRecord], list[PodPlan]]] = field(default_factory=list)
    services: list = field(default_factory=list)  # ServicePlans to add or replace
    lines: list[str] = field(default_factory=list)  # for objects left as they are or created now
    prune: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, namespace, name)


def digest(data: dict[str, bytes]) -> str:
    hasher = hashlib.sha256()
    for key in sorted(data):
        hasher.update(key.encode() + b"\0" + data[key] + b"\0")
    return hasher.hexdigest()


def _group(pods: list[PodPlan]) -> dict[tuple[str, str, str], list[PodPlan]]:
    """Pods by the object that makes them: (kind, namespace, name)."""
    groups: dict[tuple[str, str, str], list[PodPlan]] = {}
    for plan in pods:
        key = (plan.owner.kind, plan.namespace, plan.owner.name) if plan.owner else ("Pod", plan.namespace, plan.name)
        groups.setdefault(key, []).append(plan)
    return groups


def _stored_groups(engine: Engine) -> dict[tuple[str, str, str], list[PodRecord]]:
    groups: dict[tuple[str, str, str], list[PodRecord]] = {}
    for record in engine.store.list_pods():
        plan = record.plan
        key = (plan.owner.kind, plan.namespace, plan.owner.name) if plan.owner else ("Pod", plan.namespace, plan.name)
        groups.setdefault(key, []).append(record)
    return groups


def legacy_record(plan: DeploymentPlan, pods: list[PodRecord]) -> DeploymentRecord:
    """A Deployment played before Deployments were stored: its pods tell what it was."""
    import dataclasses

    newest = max(pods, key=lambda pod: pod.created_at)
    owner = newest.plan.owner
    old = dataclasses.replace(plan, replicas=len(pods), template=newest.plan,
                              template_hash=owner.template_hash if owner else "")
    return DeploymentRecord(plan=old, revision=1, created_at=newest.created_at)


def plan_apply(engine: Engine, result: TranslateResult, changed_data: set[str]) -> ApplyPlan:
    """Compare every object with what is stored; raises before anything changes."""
    out = ApplyPlan()
    store = DeploymentStore(engine.db)
    stored = _stored_groups(engine)
    translated = _group(result.pods)
    deployments = {plan.key: plan for plan in result.deployments}
    for plan in result.deployments:
        require_rolling_values(plan)
        record = store.find(*plan.key)
        pods = stored.get(("Deployment", *plan.key), [])
        if record is None and pods:
            record = legacy_record(plan, pods)
        if record is None:
            out.new_deployments.append(plan)
            out.new_pods += translated.get(("Deployment", *plan.key), [])
            out.lines.append(object_line("Deployment", plan.name, "created"))
            continue
        check_deployment(record.plan, plan)
        change = deployment_change(record.plan, plan)
        unfinished = any(pod.plan.labels.get("pod-template-hash") != plan.template_hash for pod in pods)
        if not change.any and len(pods) == plan.replicas and not unfinished and not record.condition:
            out.lines.append(object_line("Deployment", plan.name, "unchanged"))
            continue
        out.rolled.append((plan, _deployment_note(change, plan, record, changed_data)))
        if change.template == FILES:
            out.files_in_place += [(pod, plan.template) for pod in pods]
    for (kind, namespace, name), plans in translated.items():
        if kind == "Deployment" and (namespace, name) in deployments:
            continue
        pods = stored.get((kind, namespace, name), [])
        if not pods:
            out.new_pods += plans
            out.lines.append(object_line(kind, name, "created"))
            continue
        if kind == "Job":
            check_job(pods[0].plan, plans[0])
            out.lines.append(object_line(kind, name, "unchanged"))
            continue
        changes = {template_change(pods[0].plan, plan) for plan in plans} | {
            TEMPLATE if len(pods) != len(plans) else UNCHANGED}
        if changes == {UNCHANGED}:
            out.lines.append(object_line(kind, name, "unchanged"))
        elif changes <= {UNCHANGED, FILES} and kind == "Pod":
            out.files_in_place.append((pods[0], plans[0]))
            out.lines.append(object_line(kind, name, "configured", "volume files updated in place"))
        else:
            out.replaced_pods.append((pods, plans))
    _plan_services(engine, result, out)
    return out


def _deployment_note(change, plan: DeploymentPlan, record: DeploymentRecord, changed_data: set[str]) -> str:
    words = []
    if change.template == TEMPLATE:
        used = [ref for ref in _data_refs(plan) if ref in changed_data]
        words.append("pods replaced: " + (", ".join(used) + " changed" if used else "template changed"))
    elif change.template == FILES:
        words.append("volume files updated in place")
    if change.replicas:
        words.append(f"scaled {record.plan.replicas} -> {plan.replicas}")
    if change.settings:
        words.append("rollout settings changed")
    if not words:  # pods removed by hand, or a roll cut short, or one that stopped
        words.append(f"its pods brought back to the template and {plan.replicas} replicas")
    return "; ".join(words)


def _data_refs(plan: DeploymentPlan) -> list[str]:
    """`configmap/NAME` and `secret/NAME` the template reads through its environment or volumes."""
    found = []
    for container in plan.template.all_containers:
        for var in container.env:
            source = var.source or {}
            for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
                if isinstance(source.get(key), dict) and source[key].get("name"):
                    found.append(f"{kind}/{source[key]['name']}")
            for key, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
                if isinstance(source.get(key), dict) and source[key].get("name"):
                    found.append(f"{kind}/{source[key]['name']}")
    for volume in plan.template.volumes:
        if volume.kind in ("configMap", "secret") and volume.source_name:
            found.append(f"{volume.kind.lower()}/{volume.source_name}")
    return list(dict.fromkeys(found))


def _plan_services(engine: Engine, result: TranslateResult, out: ApplyPlan) -> None:
    from kubeplay.store.services import ServiceStore

    store = ServiceStore(engine.db)
    for plan in result.services:
        record = store.find(*plan.key)
        if record is None:
            out.services.append(plan)
            out.lines.append(object_line("Service", plan.name, "created"))
        elif service_change(record, plan) == UNCHANGED:
            out.lines.append(object_line("Service", plan.name, "unchanged"))
        else:
            out.services.append(plan)
            out.lines.append(object_line("Service", plan.name, "configured", "rules rewritten; pods untouched"))


def data_lines(engine: Engine, result: TranslateResult) -> tuple[list[str], set[str]]:
    """created/configured/unchanged of the ConfigMaps and Secrets, and the `kind/name` of those changed."""
    store = DeploymentStore(engine.db)
    applied = store.applied()
    lines, changed = [], set()
    for kind, table in (("ConfigMap", result.configmaps), ("Secret", result.secrets)):
        for name, data in table.items():
            before = applied.get((kind, "default", name))
            now = digest(data)
            verb = "created" if before is None else "unchanged" if before[1] == now else "configured"
            if verb == "configured":
                changed.add(f"{kind.lower()}/{name}")
            lines.append(object_line(kind, name, verb))
    return lines, changed


def record_data(engine: Engine, result: TranslateResult, files: dict[tuple[str, str], str]) -> None:
    """Remember the ConfigMaps and Secrets applied ((kind, name) -> the file each came from)."""
    store = DeploymentStore(engine.db)
    for kind, table in (("ConfigMap", result.configmaps), ("Secret", result.secrets)):
        for name, data in table.items():
            store.record_applied(kind, "default", name, files.get((kind, name), ""), digest(data))


def update_files(engine: Engine, pod: PodRecord, template: PodPlan) -> None:
    """Write the changed data volumes' files into the running pod (as the kubelet's atomic writer
    does for volumes mounted whole) and store its plan with them."""
    import dataclasses

    from kubeplay.pods.create import runtime_field_values
    from kubeplay.pods.lock import pod_lock
    from kubeplay.pods.paths import PodPaths
    from kubeplay.pods.volumes import safe_join, write_files

    paths = PodPaths(engine.settings, pod.id)
    names = set(changed_volumes(pod.plan, template))
    with pod_lock(engine.settings, pod.name):
        for before, after in zip(pod.plan.volumes, template.volumes):
            if after.name not in names:
                continue
            directory = paths.volumes_dir / after.name
            what = f'pod "{pod.shown_name}": volume "{after.name}"'
            write_files(directory, after.files, after.default_mode, what, runtime_field_values(pod.ip))
            for gone in {item.path for item in before.files} - {item.path for item in after.files}:
                target = safe_join(directory, gone, what)
                if target.is_file():
                    target.unlink()
        engine.store.replace_plan(pod.name, dataclasses.replace(pod.plan, volumes=template.volumes))


def _create_new(engine: Engine, plans: list[PodPlan], progress: Say) -> list[str]:
    """New objects' pods, as play makes them: a Job's under its lock, with its deadline timer."""
    from kubeplay.controllers.rollout import create_pods

    if not any(plan.owner is not None and plan.owner.kind == "Job" for plan in plans):
        return create_pods(engine, plans, progress)
    from kubeplay.controllers.jobs import jobs_locked, start_deadline_timers

    with jobs_locked(engine, plans):
        made = create_pods(engine, plans, progress)
    start_deadline_timers(engine, plans)
    return made


def execute(engine: Engine, out: ApplyPlan, say: Say, progress: Say) -> list[str]:
    """Carry out the plan; returns the names of the pods made from new objects."""
    from kubeplay.controllers.rollout import create_pods

    for line in out.lines:
        say(line)
    if out.services:
        from kubeplay.controllers.services import add_services
        from kubeplay.pods.network import refresh_all_hosts

        add_services(engine, out.services, replace=True)
        refresh_all_hosts(engine)
    store = DeploymentStore(engine.db)
    for plan in out.new_deployments:
        store.save(plan)
    made = _create_new(engine, out.new_pods, progress)
    for pod, template in out.files_in_place:
        update_files(engine, pod, template)
    failures: list[UserError] = []
    for plan, note in out.rolled:
        record = store.save(plan)
        from kubeplay.controllers.rollout import RolloutFailed

        try:
            converge(engine, record, progress)
        except RolloutFailed as exc:
            say(object_line("Deployment", plan.name, "configured", note + "; roll stopped"))
            failures.append(exc)
            continue
        say(object_line("Deployment", plan.name, "configured", note))
    for pods, plans in out.replaced_pods:
        remove_pods(engine, pods, progress)
        made += create_pods(engine, plans, progress)
        owner = plans[0].owner
        say(object_line(owner.kind if owner else "Pod", owner.name if owner else plans[0].name, "configured",
                        "pods replaced"))
    if failures:
        raise failures[0]
    return made


def in_scope(file: str, scope: list[str]) -> bool:
    """Whether `file` is one of the given paths or under one of the given directories."""
    file = os.path.normpath(file)
    for path in scope:
        path = os.path.normpath(path)
        if file == path or file.startswith(path.rstrip("/") + "/"):
            return True
    return False


def prune_candidates(engine: Engine, result: TranslateResult, scope: list[str]) -> list[tuple[str, str, str]]:
    """Objects stored from these files that the files no longer hold: (kind, namespace, name)."""
    from kubeplay.store.services import ServiceStore

    wanted = {(kind, namespace, name) for kind, namespace, name in _group(result.pods)}
    wanted |= {("Deployment", *plan.key) for plan in result.deployments}
    wanted |= {("Service", *plan.key) for plan in result.services}
    wanted |= {("ConfigMap", "default", name) for name in result.configmaps}
    wanted |= {("Secret", "default", name) for name in result.secrets}
    found: list[tuple[str, str, str]] = []
    for record in DeploymentStore(engine.db).list():
        if in_scope(record.plan.source.file, scope):
            found.append(("Deployment", *record.plan.key))
    for key, pods in _stored_groups(engine).items():
        if in_scope(pods[0].plan.source.file, scope) and key not in found:
            found.append(key)
    for service in ServiceStore(engine.db).list():
        if in_scope(service.plan.source.file, scope):
            found.append(("Service", *service.plan.key))
    for (kind, namespace, name), (file, _) in DeploymentStore(engine.db).applied().items():
        if in_scope(file, scope):
            found.append((kind, namespace, name))
    return [key for key in dict.fromkeys(found) if key not in wanted]


def prune(engine: Engine, keys: list[tuple[str, str, str]], say: Say, progress: Say) -> None:
    from kubeplay.controllers.services import remove_services

    store = DeploymentStore(engine.db)
    groups = _stored_groups(engine)
    for kind, namespace, name in keys:
        if kind == "Service":
            remove_services(engine, [(namespace, name)])
        elif kind in ("ConfigMap", "Secret"):
            store.forget_applied(kind, namespace, name)
        else:
            if kind == "Deployment":
                pods = deployment_pods(engine, namespace, name)
            else:
                pods = groups.get((kind, namespace, name), [])
            remove_pods(engine, pods, progress)
            if kind == "Deployment":
                store.remove(namespace, name)
        say(object_line(kind, name, "pruned"))


def record_played(engine: Engine, deployments: list[DeploymentPlan]) -> None:
    """play stores the Deployments it made, so `scale`, `rollout` and `apply` find them."""
    if not deployments:
        return
    store = DeploymentStore(engine.db)
    for plan in deployments:
        store.save(plan, cause="play")


def check_not_applied(engine: Engine, deployments: list[DeploymentPlan]) -> None:
    """play refuses a Deployment that exists: it would make a second set of its pods."""
    from kubeplay.errors import ConflictError

    from kubeplay.pods.lifecycle import pods_named

    store = DeploymentStore(engine.db)
    for plan in deployments:
        if store.find(*plan.key) is not None or pods_named(engine, set(), {("Deployment", plan.name, plan.namespace)}):
            raise ConflictError(f'deployment "{plan.name}" already exists in namespace {plan.namespace}',
                                hint="`kubeplay apply -f FILE` changes it in place; `kubeplay play --replace` "
                                     "makes it again")


def forget_deployments(engine: Engine, keys: list[tuple[str, str]], files: tuple[str, ...] = ()) -> None:
    """down removed these Deployments' pods: the Deployments go too, and what apply recorded of
    the ConfigMaps and Secrets of these files (applied again, they are created)."""
    store = DeploymentStore(engine.db)
    for namespace, name in keys:
        store.remove(namespace, name)
    scope = [path for path in files if path != "-"]
    for (kind, namespace, name), (file, _) in store.applied().items() if scope else ():
        if in_scope(file, scope):
            store.forget_applied(kind, namespace, name)


def apply_manifests(engine: Engine, result: TranslateResult, documents, files: tuple[str, ...], *,
                    remove_gone: bool, say: Say, progress: Say) -> list[str]:
    """Make what runs what the translated files say, as `kubectl apply` does: each object compared
    with what the store holds, only what changed made again, Deployments rolled. `say` gets one
    line per object; objects of these files that the files no longer hold go with `remove_gone`
(--prune). Returns the pods that `--wait` waits for."""
    from kubeplay.pods.namedvolumes import ensure_claims
    from kubeplay.pods.volumes import check_host_paths

    check_host_paths(result.pods)
    lines, changed = data_lines(engine, result)
    plan = plan_apply(engine, result, changed)  # refuses before anything changes
    scope = [path for path in files if path != "-"]
    candidates = prune_candidates(engine, result, scope) if scope else []
    for line in lines:
        say(line)
    for claim in result.claims:
        made = claim.name in ensure_claims(engine, [claim])
        say(object_line("PersistentVolumeClaim", claim.name, "created" if made else "unchanged"))
    try:
        made_pods = execute(engine, plan, say, progress)
    finally:
        record_played(engine, plan.new_deployments)
        record_data(engine, result, _data_files(documents))
    if candidates and remove_gone:
        prune(engine, candidates, say, progress)
    elif candidates:
        for kind, _, name in candidates:
            say(object_line(kind, name, "would be pruned", "not in the files; --prune removes it"))
    return made_pods + [pod.name for deployment, _ in plan.rolled for pod in deployment_pods(engine, *deployment.key)]


def _data_files(documents) -> dict[tuple[str, str], str]:
    found = {}
    for doc in documents:
        if doc.kind in ("ConfigMap", "Secret"):
            name = dict.get(dict.get(doc.body, "metadata") or {}, "name")
            found[(doc.kind, name)] = doc.file
    return found

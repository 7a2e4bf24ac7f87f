"""ReplicaSets for `kubeplay get rs` and `get all`, derived as Kubernetes would have them: kubeplay
runs a Deployment's pods itself, without a ReplicaSet object, but each template revision it keeps
(store/deployments.py) is what a cluster keeps as one ReplicaSet, `<deployment>-<pod-template-hash>`,
and the pods of that hash are its pods. The current revision wants the Deployment's replicas, older
ones 0, as after a rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReplicaSet:
    name: str
    namespace: str
    deployment: str  # "" for a ReplicaSet played from its own manifest
    template_hash: str  # "" likewise: only a Deployment's ReplicaSets carry one
    desired: int
    template: object  # the PodPlan of one replica
    created: float
    pods: list = field(default_factory=list)


def replicasets(db, deployments: list) -> list[ReplicaSet]:
    """One per kept revision of each of `deployments` (resources.Deployment, with their pods), and one
    per pod-template-hash its pods carry that no kept revision has (pods played before revisions were
    stored)."""
    from kubeplay.store.deployments import DeploymentStore

    kept = DeploymentStore(db)
    stored = {record.plan.key: record for record in kept.list()}
    found: list[ReplicaSet] = []
    for deployment in deployments:
        record = stored.get((deployment.namespace, deployment.name))
        current = record.plan.template_hash if record else _newest_hash(deployment.pods)
        by_hash: dict[str, ReplicaSet] = {}
        if record is not None:
            for revision in kept.revisions(deployment.namespace, deployment.name):
                by_hash[revision.template_hash] = ReplicaSet(
                    f"{deployment.name}-{revision.template_hash}", deployment.namespace, deployment.name,
                    revision.template_hash, deployment.replicas if revision.template_hash == current else 0,
                    revision.template, revision.created_at or deployment.created)
        for pod in deployment.pods:
            pod_hash = pod.plan.labels.get("pod-template-hash", "")
            if not pod_hash:
                continue
            if pod_hash not in by_hash:
                wanted = pod_hash == current
                by_hash[pod_hash] = ReplicaSet(f"{deployment.name}-{pod_hash}", deployment.namespace, deployment.name,
                                               pod_hash, deployment.replicas if wanted else 0, pod.plan, pod.created_at)
            by_hash[pod_hash].pods.append(pod)
        found += sorted(by_hash.values(), key=lambda rs: rs.created)
    return found


def played_replicasets(pods: list) -> list[ReplicaSet]:
    """ReplicaSets played from their own manifests (kind: ReplicaSet), known from their pods."""
    found: dict[tuple[str, str], ReplicaSet] = {}
    for pod in pods:
        owner = pod.plan.owner
        if owner is None or owner.kind != "ReplicaSet":
            continue
        key = (pod.namespace, owner.name)
        if key not in found:
            found[key] = ReplicaSet(owner.name, pod.namespace, "", "", owner.replicas, pod.plan, pod.created_at)
        found[key].pods.append(pod)
        found[key].created = min(found[key].created, pod.created_at)
    return sorted(found.values(), key=lambda rs: (rs.namespace, rs.name))


def own_labels(rs: ReplicaSet, labels: dict) -> dict:
    """The labels a ReplicaSet carries and selects by: its template's, with a Deployment's pod-template-hash."""
    return {**labels, "pod-template-hash": rs.template_hash} if rs.template_hash else dict(labels)


def _newest_hash(pods: list) -> str:
    """The template a Deployment known only from its pods runs now: the one its newest pod was made from."""
    newest = max(pods, key=lambda pod: pod.created_at, default=None)
    if newest is None:
        return ""
    owner = newest.plan.owner
    return (owner.template_hash if owner is not None else "") or newest.plan.labels.get("pod-template-hash", "")


def replicaset_object(rs: ReplicaSet, ready: int) -> dict:
    from kubeplay.generate.live import workload_object

    status = {"replicas": len(rs.pods), "fullyLabeledReplicas": len(rs.pods), "readyReplicas": ready or None,
              "availableReplicas": ready or None, "observedGeneration": 1}
    obj = workload_object("ReplicaSet", rs.name, rs.namespace, rs.created, rs.template, rs.desired,
                          {key: value for key, value in status.items() if value is not None})
    # a ReplicaSet selects, labels and is labelled by its pod-template-hash, which a Deployment's template leaves out
    labels = own_labels(rs, obj["spec"]["template"]["metadata"].get("labels", {}))
    obj["spec"]["template"]["metadata"]["labels"] = labels
    obj["spec"]["selector"] = {"matchLabels": dict(labels)}
    obj["metadata"]["labels"] = dict(labels)
    if rs.deployment:
        obj["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": rs.deployment,
                                               "uid": "", "controller": True, "blockOwnerDeletion": True}]
    obj["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(rs.desired)
    return obj

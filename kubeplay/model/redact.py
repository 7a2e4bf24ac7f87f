"""Plans as shown to people: Secret values replaced, so no command ever prints one."""

from __future__ import annotations

from kubeplay.model.plan import PodPlan
from kubeplay.model.serial import to_jsonable

HIDDEN = "<redacted>"


def _from_secret(env: dict) -> bool:
    source = env.get("source") or {}
    return "secretKeyRef" in source or "secretRef" in (source.get("envFrom") or {})


def redacted_plan(plan: PodPlan) -> dict:
    data = to_jsonable(plan)
    for container in data["init_containers"] + data["containers"]:
        for env in container["env"]:
            if _from_secret(env):
                env["value"] = HIDDEN
    for volume in data["volumes"]:
        secret = volume["kind"] == "secret" or any(
            "secret" in (source or {}) for source in ((volume.get("raw") or {}).get("sources") or []))
        for item in volume["files"]:
            item["content"] = HIDDEN if secret else item["content"]
    return data

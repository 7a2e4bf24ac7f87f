"""Names of the store's objects for shell completion: one read-only query each, nothing decoded
beyond what the name needs, and nothing made when the store does not exist yet."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from kubeplay.defaults import DATABASE_NAME

QUERIES = {
    # the pods' own names (a pod's key carries its namespace outside default); `?` is the namespace
    # asked for, or NULL for every namespace
    "pod": "SELECT DISTINCT coalesce(json_extract(plan, '$.name'), name) AS shown FROM pods"
           " WHERE ?1 IS NULL OR coalesce(json_extract(plan, '$.namespace'), 'default') = ?1 ORDER BY shown",
    "service": "SELECT DISTINCT name FROM services WHERE ?1 IS NULL OR namespace = ?1 ORDER BY name",
}
# images and volumes belong to no namespace
UNNAMESPACED_QUERIES = {
    "image": "SELECT name FROM image_names ORDER BY name",
    "volume": "SELECT name FROM volumes ORDER BY name",
}


def object_names(root: Path, kind: str, namespace: str | None = None) -> list[str]:
    """Names of `kind` (pod, deployment, service, image, volume) in the store under `root`, of
    `namespace` only when given; [] when there is no store or it cannot be read (completion must
    never fail loudly)."""
    if kind == "deployment":
        return _read_only(root, lambda conn: _deployment_names(conn, namespace))
    if kind in UNNAMESPACED_QUERIES:
        return _read_only(root, lambda conn: [row[0] for row in conn.execute(UNNAMESPACED_QUERIES[kind])])
    return _read_only(root, lambda conn: [row[0] for row in conn.execute(QUERIES[kind], (namespace,))])


def _read_only(root: Path, read: Callable[[sqlite3.Connection], list[str]]) -> list[str]:
    """What `read` finds in the store under `root`, opened read-only; [] when there is no store or
    it cannot be read."""
    path = root / DATABASE_NAME
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return read(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def _deployment_names(conn: sqlite3.Connection, namespace: str | None) -> list[str]:
    names = set()
    for (text,) in conn.execute("SELECT plan FROM pods"):
        plan = json.loads(text)
        owner = plan.get("owner") or {}
        if owner.get("kind") == "Deployment" and namespace in (None, plan.get("namespace", "default")):
            names.add(owner["name"])
    return sorted(names)


def container_names(root: Path, pod: str, namespace: str | None = None) -> list[str]:
    """Names of the init and member containers of the pod named `pod` in `namespace` (None: the first
    pod of that name in any namespace, as completion offers them), in the pod's order; [] as above."""
    from kubeplay.names import POD_KEY_SEPARATOR, pod_key

    def read(conn: sqlite3.Connection) -> list[str]:
        if namespace is not None:
            keys = [pod_key(namespace, pod)]
        else:  # a pod's key ends with SEPARATOR + name outside namespace default; names hold no separator
            keys = [row[0] for row in conn.execute("SELECT name FROM pods ORDER BY name")
                    if row[0] == pod or row[0].endswith(POD_KEY_SEPARATOR + pod)][:1]
        if not keys:
            return []
        rows = conn.execute("SELECT name FROM containers WHERE pod_name=? AND role!='infra' "
                            "ORDER BY role='member', position", (keys[0],))
        return [row[0] for row in rows]

    return _read_only(root, read)

"""A pod's plan read alone: no pod or container record, so neither their status enums nor the
container rows are loaded. What `generate` needs of the store."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kubeplay.errors import NotFoundError
from kubeplay.store.db import Database

if TYPE_CHECKING:
    from kubeplay.model.plan import PodPlan


def read_pod_plan(db: Database, name: str) -> PodPlan:
    """The plan of pod `name`, in one query."""
    from kubeplay.model.plan import PodPlan
    from kubeplay.model.serial import from_dict

    rows = db.query("SELECT plan FROM pods WHERE name=?", (name,))
    if not rows:
        raise pod_not_found(name)
    return from_dict(PodPlan, json.loads(rows[0]["plan"]))


def pod_not_found(name: str) -> NotFoundError:
    """The error for a pod the store does not hold, wherever it is looked up."""
    return NotFoundError(f'no pod named "{name}"', hint="`kubeplay pods` lists the pods")

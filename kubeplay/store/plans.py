"""A pod's stored plan: read alone (no pod or container record, so neither their status enums nor
the container rows are loaded: what `generate` needs of the store), and read back for any record."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from kubeplay.errors import NotFoundError, StoreCorrupted
from kubeplay.store.db import Database

if TYPE_CHECKING:
    from kubeplay.model.plan import PodPlan

T = TypeVar("T")


def read_pod_plan(db: Database, name: str) -> PodPlan:
    """The plan of pod `name`, in one query."""
    return read_pod_plans(db, [name])[0]


def read_pod_plans(db: Database, names: list[str]) -> list[PodPlan]:
    """The plans of the pods `names`, one query each. Every pod is looked up before any plan is
    decoded: a name the store does not hold is told without loading the plan model and its validator."""
    texts = [_plan_text(db, name) for name in names]
    from kubeplay.model.plan import PodPlan

    return [decode_plan(PodPlan, text, name) for name, text in zip(names, texts)]


def _plan_text(db: Database, name: str) -> str:
    """The JSON text of pod `name`'s plan, as stored; NotFoundError if the store holds no such pod."""
    rows = db.query("SELECT plan FROM pods WHERE name=?", (name,))
    if not rows:
        raise pod_not_found(name)
    return rows[0]["plan"]


def decode_plan(model: type[T], text: str, pod_name: str) -> T:
    """A plan stored as JSON (a pod's, or one of its containers'), validated against its model.
    A plan that does not fit (a damaged row, or one written by an incompatible kubeplay) is a
    StoreCorrupted naming the pod."""
    from kubeplay.model.serial import InvalidData, from_json

    try:
        return from_json(model, text)
    except InvalidData as exc:
        raise StoreCorrupted(f'the stored plan of pod "{pod_name}" cannot be read: {exc}',
                             hint="the row was damaged or written by an incompatible kubeplay; "
                                  "`kubeplay system reset` removes this store's pods, and then play it again") from exc


def pod_not_found(key: str) -> NotFoundError:
    """The error for a pod the store does not hold, wherever it is looked up by its key."""
    from kubeplay.names import split_pod_key

    return pod_not_found_in(*split_pod_key(key))


def pod_not_found_in(namespace: str, name: str) -> NotFoundError:
    """The error for a pod `name` that `namespace` does not hold: it names the namespace searched,
    as a pod of the same name may live in another."""
    return NotFoundError(f'no pod named "{name}" in namespace {namespace}',
                         hint="`kubeplay pods -A` lists the pods of every namespace; -n NS names the pod's namespace")

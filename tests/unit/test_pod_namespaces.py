"""Pod names are unique per namespace: the pod key, the store keyed by it, and a store written before
namespaces (schema 7) migrated to it."""

from __future__ import annotations

import sqlite3

import pytest

from kubeplay.errors import ConflictError, NotFoundError
from kubeplay.model.plan import ContainerPlan, PodPlan
from kubeplay.model.record import ContainerRole
from kubeplay.model.serial import to_json
from kubeplay.names import pod_key, split_pod_key
from kubeplay.store.db import open_database
from kubeplay.store.events import EventStore
from kubeplay.store.pods import PodStore
from kubeplay.store.schema import MIGRATIONS

NAMESPACES_SCHEMA = 8  # the migration that keys pods per namespace


@pytest.mark.parametrize(("namespace", "name", "key"), [
    ("default", "web", "web"),
    ("", "web", "web"),
    ("team-a", "web", "team-a_web"),
    ("team-a", "web.example-1", "team-a_web.example-1"),
    ("b", "a.web", "b_a.web"),
])
def test_the_pod_key_is_the_name_in_default_and_qualified_elsewhere(namespace, name, key):
    assert pod_key(namespace, name) == key
    assert split_pod_key(key) == (namespace or "default", name)


def test_names_that_look_alike_never_share_a_key():
    pairs = [("default", "a.web"), ("a", "web"), ("a-web", "x"), ("a", "web-x"), ("default", "a-web")]
    assert len({pod_key(namespace, name) for namespace, name in pairs}) == len(pairs)


def plan(name: str, namespace: str = "default") -> PodPlan:
    return PodPlan(name=name, namespace=namespace, containers=(ContainerPlan(name="c", image="localhost/c:1"),))


def test_the_same_name_in_two_namespaces_is_two_pods(tmp_path):
    db = open_database(tmp_path)
    try:
        store = PodStore(db)
        store.add_pod("id-1", plan("web"))
        store.add_pod("id-2", plan("web", "team"))
        with pytest.raises(ConflictError, match='"web" already exists in namespace team') as taken:
            store.add_pod("id-3", plan("web", "team"))
        assert "-n team web" in taken.value.hint
        assert store.named_pod("team", "web").id == "id-2"
        assert store.named_pod("default", "web").id == "id-1"
        assert sorted((o.namespace, o.name, o.key) for o in store.pod_overviews()) == [
            ("default", "web", "web"), ("team", "web", "team_web")]
        assert sorted(a[:2] for a in store.pod_addresses()) == [("web", "default"), ("web", "team")]
        with pytest.raises(NotFoundError, match='no pod named "web" in namespace other') as missing:
            store.named_pod("other", "web")
        assert "-A" in missing.value.hint
        store.remove_pod(pod_key("team", "web"))
        assert [o.key for o in store.pod_overviews()] == ["web"]
    finally:
        db.close()


def schema_7_store(path) -> None:
    """A store as kubeplay wrote it before pods were keyed per namespace, holding a pod of namespace
    default and one of namespace team, each with its state, containers, an event and a lease."""
    conn = sqlite3.connect(str(path / "kubeplay.db"), isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for statements in MIGRATIONS[:NAMESPACES_SCHEMA - 1]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={NAMESPACES_SCHEMA - 1}")
    conn.execute("INSERT INTO networks (name, subnet, gateway, bridge, created_at) "
                 "VALUES ('kubeplay', '10.88.0.0/16', '10.88.0.1', 'kubeplay0', 0)")
    for number, (name, namespace) in enumerate([("web", "default"), ("api", "team")]):
        conn.execute("INSERT INTO pods (name, id, plan, created_at) VALUES (?, ?, ?, ?)",
                     (name, f"id-{name}", to_json(plan(name, namespace)), float(number)))
        conn.execute("INSERT INTO pod_state (pod_name, phase, ip) VALUES (?, 'Running', ?)", (name, f"10.88.0.{number + 2}"))
        conn.execute("INSERT INTO containers (id, pod_name, name, role, position) VALUES (?, ?, ?, 'infra', 0)",
                     (f"{name}-infra", name, f"{name}-infra"))
        conn.execute("INSERT INTO container_state (container_id, status) VALUES (?, 'running')", (f"{name}-infra",))
        conn.execute("INSERT INTO events (pod_name, type, reason, first_at, last_at) VALUES (?, 'Normal', 'Started', 0, 0)",
                     (name,))
        conn.execute("INSERT INTO leases (network, ip, pod_name) VALUES ('kubeplay', ?, ?)", (f"10.88.0.{number + 2}", name))
    conn.close()


def test_a_schema_7_store_opens_with_its_pods_keyed_per_namespace(tmp_path):
    schema_7_store(tmp_path)
    db = open_database(tmp_path)
    try:
        assert db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        assert db.query("PRAGMA foreign_key_check") == []
        store = PodStore(db)
        assert [(o.namespace, o.name, o.key) for o in store.pod_overviews()] == [
            ("default", "web", "web"), ("team", "api", "team_api")]
        api = store.named_pod("team", "api")
        assert (api.name, api.ip, [c.name for c in api.containers]) == ("team_api", "10.88.0.3", ["api-infra"])
        assert store.named_pod("default", "web").containers[0].role is ContainerRole.INFRA
        assert [e.reason for e in EventStore(db).list("team_api")] == ["Started"]
        assert sorted(row["pod_name"] for row in db.query("SELECT pod_name FROM leases")) == ["team_api", "web"]
        with pytest.raises(NotFoundError):
            store.named_pod("default", "api")  # the old key is gone: "api" is only team's
        store.remove_pod("team_api")  # the cascade still reaches every child
        assert db.query("SELECT count(*) FROM containers WHERE pod_name='team_api'")[0][0] == 0
    finally:
        db.close()


def test_the_store_refuses_a_key_that_does_not_carry_its_namespace(tmp_path):
    from kubeplay.errors import StoreError

    db = open_database(tmp_path)
    try:
        with pytest.raises(StoreError, match="CHECK"), db.transaction() as conn:
            conn.execute("INSERT INTO pods (name, id, plan, created_at, namespace) VALUES ('web', 'x', '{}', 0, 'team')")
    finally:
        db.close()


def test_a_key_spelled_as_a_name_reaches_no_other_namespace(tmp_path):
    db = open_database(tmp_path)
    try:
        store = PodStore(db)
        store.add_pod("id-1", plan("web", "team"))
        with pytest.raises(NotFoundError, match='no pod named "team_web" in namespace default'):
            store.named_pod("default", "team_web")
        with pytest.raises(NotFoundError, match="in namespace default"):
            store.named_key("default", "team_web")
        assert store.named_key("team", "web") == "team_web"
    finally:
        db.close()


def test_peers_are_told_apart_by_namespace():
    from kubeplay.pods.network import peers_among

    addresses = [("web", "default", "10.0.0.2", "", False), ("web", "team", "10.0.0.3", "", False),
                 ("api", "team", "10.0.0.4", "", False)]
    assert peers_among(addresses, "team_web", "kubeplay") == [("web", "default", "10.0.0.2"), ("api", "team", "10.0.0.4")]
    assert peers_among(addresses, "web", "kubeplay", leaving={"team_api"}) == [("web", "team", "10.0.0.3")]


def test_down_finds_pods_by_key():
    from kubeplay.translate.loader import parse
    from kubeplay.translate.targets import names_in

    text = """
kind: Pod
metadata: {name: web, namespace: team}
---
kind: Pod
metadata: {name: web}
"""
    assert names_in(parse(text, "app.yaml", ".")).pods == {"team_web", "web"}

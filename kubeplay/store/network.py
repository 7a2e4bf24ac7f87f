"""Networks and IP leases in the state database: the only reader and writer of `networks` and `leases`.

Every change runs in one BEGIN IMMEDIATE transaction (Database.transaction), so two plays that
allocate at once are serialised by SQLite's write lock and an address is never handed out twice.
Policy (which subnet, which address) is decided by the caller through small callbacks that run
inside the transaction; this module only reads, checks and writes rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kubeplay.errors import ConflictError, NotFoundError
from kubeplay.store.db import Database


@dataclass(frozen=True)
class NetworkRecord:
    """A bridge network as stored: `config` holds options that have no column (e.g. the nft table)."""

    name: str
    subnet: str
    gateway: str
    bridge: str
    created_at: float = 0.0
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """An address leased to a pod on a network."""

    network: str
    ip: str
    pod_name: str


def _record(row) -> NetworkRecord:
    return NetworkRecord(
        name=row["name"],
        subnet=row["subnet"],
        gateway=row["gateway"],
        bridge=row["bridge"],
        created_at=row["created_at"],
        config=json.loads(row["config"] or "{}"),
    )


def _all_networks(conn) -> list[NetworkRecord]:
    return [_record(row) for row in conn.execute("SELECT * FROM networks ORDER BY name")]


def list_network_records(db: Database) -> list[NetworkRecord]:
    return [_record(row) for row in db.query("SELECT * FROM networks ORDER BY name")]


def get_network_record(db: Database, name: str) -> NetworkRecord | None:
    rows = db.query("SELECT * FROM networks WHERE name = ?", (name,))
    return _record(rows[0]) if rows else None


def insert_network(
    db: Database,
    name: str,
    make: Callable[[list[NetworkRecord]], NetworkRecord],
) -> NetworkRecord:
    """Insert the record `make(existing networks)` returns; `make` validates and may raise.

    Reading the existing networks and inserting happen in one transaction, so two concurrent
    creations cannot both pick the same subnet or bridge.
    """
    with db.transaction() as conn:
        existing = _all_networks(conn)
        if any(net.name == name for net in existing):
            raise ConflictError(
                f"network \"{name}\" already exists",
                hint=f"choose another name, or remove it first with `kubeplay network rm {name}`",
            )
        record = make(existing)
        conn.execute(
            "INSERT INTO networks (name, subnet, gateway, bridge, created_at, config) VALUES (?, ?, ?, ?, ?, ?)",
            (record.name, record.subnet, record.gateway, record.bridge, record.created_at or time.time(),
             json.dumps(record.config, sort_keys=True)),
        )
    return get_network_record(db, name) or record


def delete_network(db: Database, name: str) -> NetworkRecord:
    """Delete a network that no pod holds a lease on; the caller removes the bridge afterwards."""
    with db.transaction() as conn:
        rows = conn.execute("SELECT * FROM networks WHERE name = ?", (name,)).fetchall()
        if not rows:
            raise NotFoundError(f"network \"{name}\" not found", hint="see `kubeplay network ls`")
        users = [row["pod_name"] for row in conn.execute(
            "SELECT pod_name FROM leases WHERE network = ? ORDER BY pod_name", (name,))]
        if users:
            raise ConflictError(
                f"network \"{name}\" is in use by pod(s) {', '.join(users)}",
                hint="remove those pods first (`kubeplay down` or `kubeplay pod rm`)",
            )
        conn.execute("DELETE FROM networks WHERE name = ?", (name,))
    return _record(rows[0])


def leases_of(db: Database, network: str) -> list[Lease]:
    rows = db.query("SELECT network, ip, pod_name FROM leases WHERE network = ? ORDER BY pod_name", (network,))
    return [Lease(row["network"], row["ip"], row["pod_name"]) for row in rows]


def lease_of_pod(db: Database, pod_name: str) -> list[Lease]:
    rows = db.query("SELECT network, ip, pod_name FROM leases WHERE pod_name = ? ORDER BY network", (pod_name,))
    return [Lease(row["network"], row["ip"], row["pod_name"]) for row in rows]


def take_lease(
    db: Database,
    network: str,
    pod_name: str,
    candidates: Callable[[NetworkRecord], Iterable[str]],
) -> str:
    """The pod's lease on `network`, or a new one: the first of `candidates(network)` not leased.

    A pod that already holds a lease gets the same address back, so a retried attach is harmless.
    """
    with db.transaction() as conn:
        rows = conn.execute("SELECT * FROM networks WHERE name = ?", (network,)).fetchall()
        if not rows:
            raise NotFoundError(f"network \"{network}\" not found", hint="see `kubeplay network ls`")
        held = conn.execute(
            "SELECT ip FROM leases WHERE network = ? AND pod_name = ?", (network, pod_name)).fetchone()
        if held:
            return held["ip"]
        taken = {row["ip"] for row in conn.execute("SELECT ip FROM leases WHERE network = ?", (network,))}
        record = _record(rows[0])
        for ip in candidates(record):
            if ip not in taken:
                conn.execute("INSERT INTO leases (network, ip, pod_name) VALUES (?, ?, ?)", (network, ip, pod_name))
                return ip
    raise ConflictError(
        f"network \"{network}\" ({record.subnet}) has no free address for pod \"{pod_name}\"",
        hint="remove unused pods, or create a network with a larger subnet and play with --network",
    )


def drop_lease(db: Database, network: str, pod_name: str) -> bool:
    """Forget the pod's lease; True if there was one."""
    with db.transaction() as conn:
        cursor = conn.execute("DELETE FROM leases WHERE network = ? AND pod_name = ?", (network, pod_name))
        return cursor.rowcount > 0


def drop_leases(db: Database, network: str) -> int:
    """Forget every lease on `network` (reset: pods already gone); returns how many there were."""
    with db.transaction() as conn:
        return conn.execute("DELETE FROM leases WHERE network = ?", (network,)).rowcount

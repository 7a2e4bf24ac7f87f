"""Services in the state database: the only reader and writer of `services`, `service_host_ports`
and `service_settings`.

A Service is added in one BEGIN IMMEDIATE transaction that also picks its cluster IP and node
ports, through a callback the caller gives (the policy: which range, what the host holds), so two
plays adding Services at once never hand out one address or port twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kubeplay.errors import ConflictError, StoreCorrupted
from kubeplay.model.service import ServicePlan, ServicePort, ServiceRecord
from kubeplay.store.db import Database


@dataclass(frozen=True)
class ServiceSettings:
    """Where a store's cluster IPs come from, and the cluster domain of its names."""

    cidr: str
    cluster_domain: str


@dataclass(frozen=True)
class Taken:
    """What the store's Services hold, handed to the allocation callback."""

    cluster_ips: dict[str, str]  # ip -> "namespace/name"
    host_ports: dict[tuple[str, int], str]  # (protocol, port) -> "namespace/name"


# (plan, what is taken) -> (cluster ip, ports with node ports); raises to refuse the Service
Allocate = Callable[[ServicePlan, Taken], tuple[str, tuple[ServicePort, ...]]]


class ServiceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- settings -----------------------------------------------------------------------------

    def settings(self) -> ServiceSettings | None:
        rows = self.db.query("SELECT cidr, cluster_domain FROM service_settings WHERE id=1")
        return ServiceSettings(rows[0]["cidr"], rows[0]["cluster_domain"]) if rows else None

    def fix_settings(self, wanted: ServiceSettings) -> ServiceSettings:
        """The store's settings: `wanted` when none were fixed yet, else those fixed before."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT cidr, cluster_domain FROM service_settings WHERE id=1").fetchone()
            if row:
                return ServiceSettings(row["cidr"], row["cluster_domain"])
            conn.execute("INSERT INTO service_settings (id, cidr, cluster_domain) VALUES (1, ?, ?)",
                         (wanted.cidr, wanted.cluster_domain))
            return wanted

    def clear_settings_if_unused(self) -> None:
        """With no Service left, the range and domain may be chosen again."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM services LIMIT 1").fetchone() is None:
                conn.execute("DELETE FROM service_settings")

    # --- services -----------------------------------------------------------------------------

    def add(self, plan: ServicePlan, allocate: Allocate) -> ServiceRecord:
        from kubeplay.model.serial import to_json

        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM services WHERE namespace=? AND name=?", plan.key).fetchone():
                raise ConflictError(f'Service "{plan.name}" already exists in namespace {plan.namespace}',
                                    hint="`kubeplay down FILE` first, or `kubeplay play --replace`")
            cluster_ip, ports = allocate(plan, _taken(conn))
            now = time.time()
            conn.execute("INSERT INTO services (namespace, name, plan, cluster_ip, ports, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (plan.namespace, plan.name, to_json(plan), cluster_ip,
                          to_json(tuple(ports), tuple[ServicePort, ...]), now))
            for protocol, port in _host_ports(plan, ports):
                conn.execute("INSERT INTO service_host_ports (protocol, port, namespace, name) VALUES (?, ?, ?, ?)",
                             (protocol, port, plan.namespace, plan.name))
        return ServiceRecord(plan=plan, cluster_ip=cluster_ip, ports=ports, created_at=now)

    def remove(self, namespace: str, name: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM services WHERE namespace=? AND name=?", (namespace, name)).rowcount > 0

    def find(self, namespace: str, name: str) -> ServiceRecord | None:
        rows = self.db.query("SELECT * FROM services WHERE namespace=? AND name=?", (namespace, name))
        return _record(rows[0]) if rows else None

    def list(self) -> list[ServiceRecord]:
        return [_record(row) for row in self.db.query("SELECT * FROM services ORDER BY namespace, name")]

    def any(self) -> bool:
        """Whether the store holds a Service: one cheap query on every path that may change endpoints."""
        return bool(self.db.query("SELECT 1 FROM services LIMIT 1"))


def _host_ports(plan: ServicePlan, ports: tuple[ServicePort, ...]) -> list[tuple[str, int]]:
    """What the Service publishes on the host: node ports, and a LoadBalancer's own ports."""
    held = [(port.protocol, port.node_port) for port in ports if port.node_port]
    if plan.type == "LoadBalancer":
        held += [(port.protocol, port.port) for port in ports]
    return list(dict.fromkeys(held))


def host_ports_of(record: ServiceRecord) -> list[tuple[str, int]]:
    return _host_ports(record.plan, record.ports)


def _taken(conn) -> Taken:
    ips = {row["cluster_ip"]: f"{row['namespace']}/{row['name']}"
           for row in conn.execute("SELECT namespace, name, cluster_ip FROM services WHERE cluster_ip != ''")}
    ports = {(row["protocol"], row["port"]): f"{row['namespace']}/{row['name']}"
             for row in conn.execute("SELECT protocol, port, namespace, name FROM service_host_ports")}
    return Taken(ips, ports)


def _record(row) -> ServiceRecord:
    from kubeplay.model.serial import InvalidData, from_json

    try:
        plan = from_json(ServicePlan, row["plan"])
        ports = from_json(tuple[ServicePort, ...], row["ports"])
    except InvalidData as exc:
        raise StoreCorrupted(f"the stored Service {row['namespace']}/{row['name']} cannot be read: {exc}",
                             hint="remove it with `kubeplay down FILE`, or every pod and Service of the store "
                                  "with `kubeplay system reset`") from exc
    return ServiceRecord(plan=plan, cluster_ip=row["cluster_ip"], ports=ports, created_at=row["created_at"])

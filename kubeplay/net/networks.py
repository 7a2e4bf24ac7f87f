"""Bridge networks as users see them: create, list, inspect, remove, and the default `kubeplay`.

A network is a row first (create only validates and records it); its bridge is made on first attach
by bridge.ensure_bridge. Validation and the insert share one transaction, so a failed or racing
create leaves nothing behind.
"""

from __future__ import annotations

import ipaddress

import time

from kubeplay.errors import ConflictError, NotFoundError, UserError
from kubeplay.model.serial import to_jsonable
from kubeplay.net import nftables
from kubeplay.net.bridge import check_bridge_name, link_exists, remove_bridge
from kubeplay.net.subnets import (
    check_free,
    check_network_name,
    gateway_of,
    host_routes,
    parse_subnet,
    pick_free_subnet,
)
from kubeplay.store.db import Database
from kubeplay.store.network import (
    NetworkRecord,
    delete_network,
    get_network_record,
    insert_network,
    leases_of,
    list_network_records,
)

DEFAULT_NETWORK = "kubeplay"
DEFAULT_BRIDGE = "kp0"
NO_NETWORK = "none"


def create_network(db: Database, name: str, subnet: str | None = None, *, bridge: str | None = None,
                   nft_table: str = nftables.TABLE) -> NetworkRecord:
    """Record a network; `subnet` None picks the first free 10.89.x.0/24."""
    check_network_name(name)
    wanted = parse_subnet(subnet) if subnet else None
    if bridge:
        check_bridge_name(bridge)

    def make(existing: list[NetworkRecord]) -> NetworkRecord:
        taken = [(net.name, net.subnet) for net in existing]
        own_bridges = [net.bridge for net in existing]
        routes = host_routes()
        service_range = _service_range(db)
        if wanted is not None:
            check_free(wanted, taken, routes, own_bridges)
            if service_range and wanted.overlaps(service_range):
                raise ConflictError(f"subnet {wanted} overlaps the service range {service_range}, where the "
                                    "Services' cluster IPs are",
                                    hint="choose a subnet outside it (`kubeplay services` shows the cluster IPs)")
            chosen = wanted
        else:
            # the service range counts as taken: a pod address inside it would be caught by the Services' rules
            reserved = [("service range", str(service_range))] if service_range else []
            chosen = pick_free_subnet(taken + reserved, routes, own_bridges)
        bridge_name = bridge or _free_bridge_name(own_bridges, default=name == DEFAULT_NETWORK)
        holder = next((net.name for net in existing if net.bridge == bridge_name), None)
        if holder:
            raise ConflictError(f"bridge {bridge_name} already belongs to network \"{holder}\"",
                                hint="choose another bridge name")
        if link_exists(bridge_name):
            raise ConflictError(f"an interface named {bridge_name} already exists on the host",
                                hint="choose another bridge name, or remove that interface")
        config = {} if nft_table == nftables.TABLE else {"nft_table": nft_table}
        return NetworkRecord(name=name, subnet=str(chosen), gateway=str(gateway_of(chosen)),
                             bridge=bridge_name, created_at=time.time(), config=config)

    return insert_network(db, name, make)


def _service_range(db: Database) -> ipaddress.IPv4Network | None:
    """The store's service range once its first Service fixed it: no network may overlap it, or the
    Services' rules would take that network's traffic."""
    from kubeplay.store.services import ServiceStore

    settings = ServiceStore(db).settings()
    return ipaddress.ip_network(settings.cidr) if settings else None


def _free_bridge_name(used: list[str], default: bool) -> str:
    if default and DEFAULT_BRIDGE not in used and not link_exists(DEFAULT_BRIDGE):
        return DEFAULT_BRIDGE
    for number in range(1, 10000):
        candidate = f"kp{number}"
        if candidate not in used and not link_exists(candidate):
            return candidate
    raise ConflictError("no free bridge name kp1..kp9999", hint="remove unused networks")


def list_networks(db: Database) -> list[NetworkRecord]:
    return list_network_records(db)


def get_network(db: Database, name: str) -> NetworkRecord:
    record = get_network_record(db, name)
    if record is None:
        raise NotFoundError(f"network \"{name}\" not found",
                            hint="see `kubeplay network ls`, or create it with `kubeplay network create`")
    return record


def resolve_network(db: Database, name: str) -> NetworkRecord:
    """The network a pod asks for; "" is the default network, created on first use."""
    if name == NO_NETWORK:
        raise UserError("network 'none' has no bridge", hint="pods with network none get loopback only")
    if name and name != DEFAULT_NETWORK:
        return get_network(db, name)
    record = get_network_record(db, DEFAULT_NETWORK)
    if record:
        return record
    try:
        return create_network(db, DEFAULT_NETWORK, None)
    except ConflictError:
        # another play created it between our read and our insert
        record = get_network_record(db, DEFAULT_NETWORK)
        if record is None:
            raise
        return record


def inspect_network(db: Database, name: str) -> dict:
    """The network, its bridge's presence and its leases, as a JSON-able dict."""
    record = get_network(db, name)
    info = to_jsonable(record)
    info["bridge_present"] = link_exists(record.bridge)
    info["leases"] = [{"pod": lease.pod_name, "ip": lease.ip} for lease in leases_of(db, name)]
    return info


def remove_network(db: Database, name: str) -> NetworkRecord:
    """Remove a network no pod uses: its record, then its bridge and its masquerade rules.

    The record goes first, in the transaction that finds no lease on it: from then on no play can
    lease an address on it, so none can be attaching to the bridge that is removed next (the
    other order let a pod attach between the check and the bridge's removal, and lose its bridge)."""
    record = delete_network(db, name)
    remove_bridge(record, owner=str(db.path.parent))
    return record

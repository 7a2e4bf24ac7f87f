"""IP address management: leases of pod addresses, kept in the state database.

An address is leased inside one BEGIN IMMEDIATE transaction (store.network.take_lease), so
concurrent plays never get the same address. The network address, the gateway (.1) and the
broadcast address are never leased.
"""

from __future__ import annotations

import ipaddress

from kubeplay.net.subnets import pod_addresses
from kubeplay.store.db import Database
from kubeplay.store.network import NetworkRecord, drop_lease, take_lease


def _candidates(record: NetworkRecord):
    return pod_addresses(ipaddress.ip_network(record.subnet))


def allocate(db: Database, network: str, pod_name: str) -> str:
    """The pod's address on `network`: its existing lease, or the lowest free address."""
    return take_lease(db, network, pod_name, _candidates)


def release(db: Database, network: str, pod_name: str) -> bool:
    """Give the pod's address back; True if it held one. Idempotent."""
    return drop_lease(db, network, pod_name)

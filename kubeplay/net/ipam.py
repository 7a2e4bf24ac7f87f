"""IP address management: leases of pod addresses, kept in the state database.

An address is leased inside one BEGIN IMMEDIATE transaction (store.network.take_lease), so
concurrent plays never get the same address. The network address, the gateway (.1) and the
broadcast address are never leased.
"""

from __future__ import annotations

import ipaddress

from kubeplay.errors import ConflictError, UserError
from kubeplay.net.subnets import pod_addresses
from kubeplay.store.db import Database
from kubeplay.store.network import NetworkRecord, drop_lease, take_lease


def _candidates(record: NetworkRecord):
    return pod_addresses(ipaddress.ip_network(record.subnet))


def allocate(db: Database, network: str, pod_name: str, wanted: str = "") -> str:
    """The pod's address on `network`: its existing lease, or `wanted` (play --ip), or the lowest
    free address."""
    if not wanted:
        return take_lease(db, network, pod_name, _candidates)

    def only_wanted(record: NetworkRecord):
        if wanted not in set(_candidates(record)):
            raise UserError(f"--ip {wanted}: not a pod address of network \"{record.name}\" ({record.subnet})",
                            hint="pick an address inside the subnet, other than its gateway (.1)")
        return [wanted]

    try:
        return take_lease(db, network, pod_name, only_wanted)
    except ConflictError as exc:
        raise ConflictError(f"--ip {wanted}: the address is taken on network \"{network}\"",
                            hint="`kubeplay pods` and `kubeplay network inspect` show who holds it; pick another") from exc


def release(db: Database, network: str, pod_name: str) -> bool:
    """Give the pod's address back; True if it held one. Idempotent."""
    return drop_lease(db, network, pod_name)

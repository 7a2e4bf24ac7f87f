"""What a pod learns of the store's Services: the /etc/hosts lines of their names, the cluster's
search domains for resolv.conf, and the SVC_SERVICE_HOST/PORT variables of its containers.

Names are /etc/hosts entries kept current in every running pod (rewritten in place whenever a
Service or a headless Service's pods change), not a DNS server: no process has to stay alive, and
everything that resolves through the C library (getent, glibc and musl programs, busybox wget and
ping) finds them. A tool that speaks DNS itself (nslookup, dig) asks the pod's nameservers and does
not see them.
"""

from __future__ import annotations

import os
from functools import cached_property

from kubeplay.model.service import ServiceRecord
from kubeplay.pods.engine import Engine

CLUSTER_DOMAIN_ENV = "KUBEPLAY_CLUSTER_DOMAIN"


def wanted_cluster_domain() -> str:
    """The cluster domain a store gets with its first Service."""
    from kubeplay.net.hosts import DEFAULT_CLUSTER_DOMAIN

    return os.environ.get(CLUSTER_DOMAIN_ENV, "").strip().strip(".").lower() or DEFAULT_CLUSTER_DOMAIN


class ServiceNames:
    """One read of the store's Services (and, for headless ones, its pods), for many pods."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @cached_property
    def records(self) -> list[ServiceRecord]:
        from kubeplay.store.services import ServiceStore

        store = ServiceStore(self.engine.db)
        records = store.list() if store.any() else []
        if self.engine.settings.rootless:
            # rootless pod addresses lead nowhere (see pods/rootlessroutes.py): only cluster IPs are routed
            return [record for record in records if not record.plan.headless]
        return records

    @cached_property
    def cluster_domain(self) -> str:
        from kubeplay.store.services import ServiceStore

        fixed = ServiceStore(self.engine.db).settings()
        return fixed.cluster_domain if fixed else wanted_cluster_domain()

    @cached_property
    def _headless_addresses(self) -> dict[tuple[str, str], list]:
        from kubeplay.model.endpoints import endpoints_of

        headless = [record for record in self.records if record.plan.headless]
        if not headless:
            return {}
        pods = self.engine.store.list_pods()
        return {record.plan.key: list(endpoints_of(record, pods).addresses) for record in headless}

    def host_entries(self, namespace: str) -> list[tuple[str, tuple[str, ...]]]:
        """(ip, names) lines for a pod of `namespace`: every Service's VIP, a headless Service's
        ready pods, and HOSTNAME.SUBDOMAIN names of pods whose subdomain is a headless Service."""
        from kubeplay.net.hosts import service_names

        domain = self.cluster_domain
        entries = []
        for record in self.records:
            names = service_names(record.name, record.namespace, namespace, domain)
            if not record.plan.headless:
                if record.cluster_ip:
                    entries.append((record.cluster_ip, names))
                continue
            for address in self._headless_addresses.get(record.plan.key, []):
                entries.append((address.ip, names))
                if address.hostname:
                    entries.append((address.ip, service_names(f"{address.hostname}.{record.name}", record.namespace,
                                                              namespace, domain)))
        return entries

    def searches(self, namespace: str) -> tuple[str, ...]:
        from kubeplay.net.hosts import cluster_searches

        return cluster_searches(namespace, self.cluster_domain)

    def environment(self, namespace: str) -> list[tuple[str, str]]:
        """The variables Kubernetes gives a container for each Service with a cluster IP in its
        namespace (enableServiceLinks)."""
        variables: list[tuple[str, str]] = []
        for record in self.records:
            if record.namespace == namespace and record.cluster_ip and record.ports:
                variables += service_variables(record)
        return variables


def service_variables(record: ServiceRecord) -> list[tuple[str, str]]:
    """WEB_SERVICE_HOST, WEB_SERVICE_PORT(_NAME) and the Docker-link style WEB_PORT_80_TCP family."""
    prefix = record.name.upper().replace("-", "_")
    ip = record.cluster_ip
    first = record.ports[0]
    variables = [(f"{prefix}_SERVICE_HOST", ip), (f"{prefix}_SERVICE_PORT", str(first.port))]
    variables += [(f"{prefix}_SERVICE_PORT_{port.name.upper().replace('-', '_')}", str(port.port))
                  for port in record.ports if port.name]
    variables.append((f"{prefix}_PORT", f"{first.protocol.lower()}://{ip}:{first.port}"))
    for port in record.ports:
        protocol = port.protocol.lower()
        base = f"{prefix}_PORT_{port.port}_{port.protocol}"
        variables += [(base, f"{protocol}://{ip}:{port.port}"), (f"{base}_PROTO", protocol),
                      (f"{base}_PORT", str(port.port)), (f"{base}_ADDR", ip)]
    return variables


def cluster_first(dns_policy: str, host_network: bool) -> bool:
    """Whether the pod gets the cluster's search domains (the kubelet's rule: ClusterFirst off the
    host's network, ClusterFirstWithHostNet anywhere)."""
    return dns_policy == "ClusterFirstWithHostNet" or (dns_policy == "ClusterFirst" and not host_network)

"""`kubeplay services` (alias `svc`): the store's Services, their addresses and their endpoints."""

from __future__ import annotations

import time

import click

from kubeplay.cli.options import namespace_options, resolve_namespace
from kubeplay.cli.render import age, echo_json, table
from kubeplay.config import Settings

SHOWN_ENDPOINTS = 3  # as `kubectl get endpoints`: the rest is counted


def service_rows(settings: Settings) -> list[dict]:
    """Every Service of the store with its endpoints now, as `--format json` gives them."""
    from kubeplay.controllers.endpoints import endpoints_by_service
    from kubeplay.pods.engine import Engine
    from kubeplay.store.services import ServiceStore

    engine = Engine(settings)
    records = ServiceStore(engine.db).list()
    endpoints = endpoints_by_service(engine, records)
    rows = []
    for record in records:
        found = endpoints[record.plan.key]
        rows.append({
            "name": record.name, "namespace": record.namespace, "type": record.type,
            "clusterIP": record.cluster_ip or "None", "selector": record.plan.selector,
            "sessionAffinity": record.plan.session_affinity,
            "ports": [{"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol,
                       **({"nodePort": p.node_port} if p.node_port else {})} for p in record.ports],
            "endpoints": [{"pod": address.pod, "ip": address.ip,
                           "ports": [target.port for targets in found.targets for target in targets
                                     if target.pod == address.pod]}
                          for address in found.addresses],
            "created": record.created_at,
        })
    return rows


def _endpoint_text(row: dict) -> str:
    shown = [f"{e['ip']}:{port}" for e in row["endpoints"] for port in e["ports"]] if row["ports"] \
        else [e["ip"] for e in row["endpoints"]]
    shown = list(dict.fromkeys(shown))
    if not shown:
        return "<none>"
    more = len(shown) - SHOWN_ENDPOINTS
    return ",".join(shown[:SHOWN_ENDPOINTS]) + (f" + {more} more..." if more > 0 else "")


def _ports_text(row: dict) -> str:
    return ",".join(f"{p['port']}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p['protocol']}"
                    for p in row["ports"]) or "<none>"


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="A table as kubectl prints it, or JSON.")
@namespace_options
@click.pass_obj
def services(settings: Settings, fmt: str, namespace: str | None, all_namespaces: bool) -> None:
    """List Services: NAME TYPE CLUSTER-IP PORT(S) ENDPOINTS AGE."""
    scope = resolve_namespace(namespace, all_namespaces)
    rows = [row for row in service_rows(settings) if scope is None or row["namespace"] == scope]
    if fmt == "json":
        echo_json(rows)
        return
    now = time.time()
    namespaced = scope is None
    headers = (["NAMESPACE"] if namespaced else []) + ["NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS", "AGE"]
    table(headers, [([row["namespace"]] if namespaced else [])
                    + [row["name"], row["type"], row["clusterIP"], _ports_text(row), _endpoint_text(row),
                       age(row["created"], now)] for row in rows])

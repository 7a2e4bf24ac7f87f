"""A rootless Service's node port (or LoadBalancer port), spread over the Service's ready endpoints.

Rootless, a host port can only be bound by a pod's own helper (pasta or slirp4netns), and the
first pod selected by the Service to start holds it (rootless/network.py `claim_node_port`). Its
helper does not send the port to the Service's target port but to the same port number inside the
holder's namespace, where nothing listens; the holder's Service table (pods/rootlessroutes.py)
sends each connection arriving there to one of the Service's ready endpoints, picked with numgen:
the holder's own target port on its loopback when the holder is ready, another ready pod's
loopback forward through the gateway (the same forwards the Services use), and a reset at once
when none is ready. So the port follows readiness wherever the Service tables are rewritten.

The port lives as long as its holder's helper: a stopped or exited holder keeps it (and sends it
to the ready pods), a removed one takes it away. A slirp4netns pod of the Service then takes it
on (its helper adds ports while it runs: `republish_node_ports` in pods/rootlessroutes.py); a
running pasta cannot, so `down` names the Service and the `play --replace` that publishes it again.

pasta hands a connection from the host's loopback to the namespace's loopback (the output hook);
anything else, and all of slirp4netns, comes in through the tap device (prerouting). A connection
sent on to another pod leaves through the tap again: the holder's namespace forwards and
masquerades exactly those (their conntrack mark), and lets its loopback be routed
(`route_localnet`, set when the holder's network is made) for the connections coming from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeplay.net.services import POD_TABLE

MARK = "0x4b504e50"  # a connection this table sent on from a node port: masqueraded and forwarded
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class NodePortRoute:
    """One published host port of a Service, as its holder's namespace sends it on."""

    protocol: str  # TCP or UDP
    number: int  # the host port, and the port the helper sends it to inside the namespace
    label: str  # "service NAMESPACE/NAME", in comments
    targets: tuple[tuple[str, int], ...] = ()  # (address, port) as the holder reaches each ready endpoint


def node_port_script(routes: list[NodePortRoute], table: str = POD_TABLE) -> str:
    """The node port chains of a holder's table, appended to the table's own script (which makes
    the table anew, so these are only added, never replaced)."""
    if not routes:
        return ""
    t = f"inet {table}"
    lines = [
        f"add map {t} node-ports {{ type inet_proto . inet_service : verdict ; }}",
        f"add chain {t} node-ports-pre {{ type nat hook prerouting priority dstnat ; policy accept ; }}",
        f"add chain {t} node-ports-out {{ type nat hook output priority -100 ; policy accept ; }}",
        f"add chain {t} node-ports-post {{ type nat hook postrouting priority srcnat ; policy accept ; }}",
        f"add chain {t} node-ports-forward {{ type filter hook forward priority 0 ; policy drop ; }}",
        f"add rule {t} node-ports-pre fib daddr type local meta l4proto . th dport vmap @node-ports",
        f"add rule {t} node-ports-out fib daddr type local meta l4proto . th dport vmap @node-ports",
        # a random source port: pasta sends a datagram on from the host under its source port, which a
        # client on the host's loopback still holds (the datagram is dropped) when it is kept
        f"add rule {t} node-ports-post ct mark {MARK} oifname != \"lo\" masquerade random",
        f"add rule {t} node-ports-forward ct mark {MARK} accept",
    ]
    for route in routes:
        lines += _route_lines(t, route)
    return "\n".join(lines) + "\n"


def _route_lines(t: str, route: NodePortRoute) -> list[str]:
    proto = route.protocol.lower()
    chain = f"node-port-{proto}-{route.number}"
    comment = '"' + f"{route.label} node port {route.number}/{route.protocol}".replace('"', "'")[:120] + '"'
    lines = [f"add chain {t} {chain}",
             f"add element {t} node-ports {{ {proto} . {route.number} : goto {chain} }}"]
    if not route.targets:
        return lines + [f"add rule {t} {chain} meta l4proto tcp reject with tcp reset comment {comment}",
                        f"add rule {t} {chain} reject comment {comment}"]
    choices = []
    for index, (address, port) in enumerate(route.targets):
        endpoint = f"{chain}-{index}"
        choices.append(f"{index} : goto {endpoint}")
        # the holder's own UDP port: a datagram that came in through the tap device is answered by an
        # unconnected socket from the tap's address, which a dnat to 127.0.0.1 would not match (the
        # answer is lost); redirect sends it to the address it came in on (127.0.0.1 from loopback)
        action = f"redirect to :{port}" if (address, proto) == (LOOPBACK, "udp") else f"dnat ip to {address}:{port}"
        lines += [f"add chain {t} {endpoint}",
                  f"add rule {t} {endpoint} ct mark set {MARK} meta l4proto {proto} {action}"]
    lines.append(f"add rule {t} {chain} numgen random mod {len(choices)} vmap {{ {', '.join(choices)} }} "
                 f"comment {comment}")
    return lines


def published_ports(record) -> list[tuple[object, int]]:
    """(Service port, host port) of what a Service publishes on the host: its node ports, and a
    LoadBalancer's own ports."""
    if record.type not in ("NodePort", "LoadBalancer"):
        return []
    published = []
    for port in record.ports:
        numbers = [port.node_port] if port.node_port else []
        if record.type == "LoadBalancer":
            numbers.append(port.port)
        published += [(port, number) for number in dict.fromkeys(numbers)]
    return published


def routes_for(holder, held: list[tuple[str, int]], endpoints, gateway: str, forwards_of) -> list[NodePortRoute]:
    """The routes of the node ports `held` ((protocol, number)) by the pod `holder`, from the
    Services' `endpoints` ((record, Endpoints)): its own ready target on its loopback, another
    ready pod's through its loopback forward (skipped when it has none: an undeclared port)."""
    wanted = set(held)
    routes = []
    for record, found in endpoints:
        for port, number in published_ports(record):
            if (port.protocol, number) not in wanted:
                continue
            wanted.discard((port.protocol, number))
            targets = []
            for target in found.targets[record.ports.index(port)]:
                if record.namespace == holder.namespace and target.pod == holder.name:
                    targets.append((LOOPBACK, target.port))
                    continue
                forwards = forwards_of.get((record.namespace, target.pod))
                host_port = forwards.host_port(port.protocol, target.port) if forwards and gateway else None
                if host_port:
                    targets.append((gateway, host_port))
            routes.append(NodePortRoute(port.protocol, number, f"service {record.namespace}/{record.name}",
                                        tuple(targets)))
    # a port whose Service is gone: refused, as a Service with no endpoints is
    routes += [NodePortRoute(protocol, number, "no service") for protocol, number in sorted(wanted)]
    return routes

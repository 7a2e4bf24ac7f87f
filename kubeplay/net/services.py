"""Service rules in nftables, in the shape of kube-proxy's nftables mode (KEP-3866).

kubeplay's Services live in their own table, `inet kubeplay-services`, beside the hostPort table:

    prerouting (nat, dstnat)  jump services           from pods (and other hosts, for node ports)
    output     (nat, -100)    jump services           from the host itself, 127.0.0.1 too
    services                  ip daddr . meta l4proto . th dport vmap @service-ips
                              fib daddr type local meta l4proto . th dport vmap @service-ports
                              ip daddr @service-ranges goto no-endpoints
    no-endpoints              reject (tcp reset for TCP): refused at once, never left hanging
    svc-KEY_pN                one chain per Service port:
                                [ip saddr @aff-... goto sep-...]      sessionAffinity: ClientIP
                                numgen random mod N vmap { 0 : goto sep-..., ... }
    sep-KEY_pN_IP-PORT        one chain per endpoint: ip saddr IP meta mark set mark | HAIRPIN
                                [update @aff-... { ip saddr }] dnat ip to IP:PORT

`service-ips` maps VIP . protocol . port to a Service port's chain; `service-ports` maps
protocol . port, on every local address, to the same chain (nodePorts, and a LoadBalancer's port).
An address of a service range that no Service holds is refused, so a connection to a removed
Service fails at once instead of leaving through the default route.

Masquerade is not repeated here: kubeplay's hostPort table (see net/nftables.py), which exists
wherever a pod network does, masquerades a DNATed connection from 127.0.0.1, and one between two pods
of a network unless the bridge's own connection tracking translates its answers back. A pod reaching
itself through its Service is always masqueraded: its endpoint chain marks it (HAIRPIN).

A pod's TCP connection to a cluster IP does not reach these rules where the kernel takes the pods'
connect hook (net/socketlb.py): write_services hands it the same endpoints, and it sends the socket
to one of them when it connects. The rules still carry everything else, and everything when the
hook is not there.

KEY names a Service within its store (`web.default`, plus the store's mark for a store other than
the default one), so several stores share the table and one never touches another's chains. A
Service's chains, sets and map elements are rewritten as a whole, in one `nft -f` transaction,
under the host-wide network lock: whoever changed the endpoints rewrites them from the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from kubeplay.net.hostlock import network_lock
from kubeplay.net.nftables import FAMILY, hairpin_rule, run_nft, table_objects

TABLE = "kubeplay-services"
_CHAIN_PREFIXES = ("svc-", "sep-", "aff-")


@dataclass(frozen=True)
class PortRules:
    """One Service port as nft sees it: where it listens and where it sends."""

    protocol: str  # TCP or UDP
    port: int
    targets: tuple[tuple[str, int], ...] = ()  # (pod ip, pod port)
    host_ports: tuple[int, ...] = ()  # published on every local address: the nodePort, a LoadBalancer's port


@dataclass(frozen=True)
class ServiceRules:
    """Everything nft holds for one Service."""

    key: str
    label: str  # "service NAMESPACE/NAME", in comments and conflict messages
    cluster_ip: str  # "" when headless: no VIP rules
    ports: tuple[PortRules, ...] = ()
    affinity_timeout: int = 0  # seconds of sessionAffinity: ClientIP; 0 for none


def service_key(namespace: str, name: str, scope: str = "") -> str:
    """A Service's name in chain names: names and namespaces are DNS labels, so `.` and `_` are free
    to separate the parts; `scope` names the store when it is not the default one (see
    nftables.pod_chain), and only a short hash of it goes into the name."""
    if not scope:
        return f"{name}.{namespace}"
    return f"{name}.{namespace}.{hashlib.sha256(scope.encode()).hexdigest()[:8]}"


def _t(table: str) -> str:
    return f"{FAMILY} {table}"


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'")[:120] + '"'


def base_script(ranges: Iterable[str] = (), table: str = TABLE) -> str:
    """The table, its maps and its fixed chains; idempotent, so concurrent first uses both succeed."""
    t = _t(table)
    lines = [
        f"add table {t}",
        f"add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
        f"add map {t} service-ports {{ type inet_proto . inet_service : verdict ; }}",
        f"add set {t} service-ranges {{ type ipv4_addr ; flags interval ; }}",
        f"add chain {t} services",
        f"add chain {t} no-endpoints",
        f"add chain {t} prerouting {{ type nat hook prerouting priority dstnat ; policy accept ; }}",
        f"add chain {t} output {{ type nat hook output priority -100 ; policy accept ; }}",
    ]
    for chain in ("services", "no-endpoints", "prerouting", "output"):
        lines.append(f"flush chain {t} {chain}")
    lines += [
        f"add rule {t} prerouting jump services",
        f"add rule {t} output jump services",
        f"add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips",
        f"add rule {t} services fib daddr type local meta l4proto . th dport vmap @service-ports",
        f"add rule {t} services ip daddr @service-ranges goto no-endpoints",
        f"add rule {t} no-endpoints meta l4proto tcp reject with tcp reset",
        f"add rule {t} no-endpoints reject",
    ]
    lines += [f"add element {t} service-ranges {{ {cidr} }}" for cidr in ranges]
    return "\n".join(lines) + "\n"


def _port_chain(key: str, index: int) -> str:
    return f"svc-{key}_p{index}"


def _endpoint_name(prefix: str, key: str, index: int, ip: str, port: int) -> str:
    return f"{prefix}-{key}_p{index}_{ip}-{port}"


def _owned_by(name: str, key: str) -> bool:
    head = name.split("_", 1)[0]
    return head in (f"svc-{key}", f"sep-{key}", f"aff-{key}")


@dataclass(frozen=True)
class _Existing:
    """What the table holds of one Service now."""

    chains: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    elements: tuple[tuple[str, str], ...] = ()  # (map, element key as nft text)


def existing_of(objects: list[dict], key: str) -> _Existing:
    chains, sets, elements = [], [], []
    for item in objects:
        if "chain" in item and _owned_by(item["chain"]["name"], key):
            chains.append(item["chain"]["name"])
        elif "set" in item and _owned_by(item["set"]["name"], key):
            sets.append(item["set"]["name"])
        elif "map" in item and item["map"]["name"] in ("service-ips", "service-ports"):
            for element_key, verdict in _map_elements(item["map"]):
                if _owned_by(verdict, key):
                    elements.append((item["map"]["name"], element_key))
    return _Existing(tuple(chains), tuple(sets), tuple(elements))


def _map_elements(map_object: dict) -> list[tuple[str, str]]:
    """(element key as nft text, target chain) of a verdict map in `nft -j` output."""
    return [(" . ".join(str(part) for part in parts), target) for parts, target in _map_entries(map_object)]


def _map_entries(map_object: dict) -> list[tuple[list, str]]:
    """(the parts of the element's key, target chain) of a verdict map in `nft -j` output."""
    found = []
    for element in map_object.get("elem", []) or []:
        if not isinstance(element, list) or len(element) != 2:
            continue
        key, verdict = element
        if isinstance(key, dict) and "elem" in key:  # an element with options wraps its value
            key = key["elem"].get("val")
        parts = key.get("concat", [key]) if isinstance(key, dict) else [key]
        target = next((verdict[kind]["target"] for kind in ("goto", "jump") if kind in verdict), "")
        found.append((parts, target))
    return found


def service_script(changes: Iterable[tuple[str, ServiceRules | None]], objects: list[dict],
                   ranges: Iterable[str] = (), table: str = TABLE, *, mark_hairpin: bool = True) -> str:
    """Replace each Service's objects with its rules (None: remove them), all in one transaction.
    `objects` is the table as `nft -j` read it just before, under the same lock. `mark_hairpin`: an
    endpoint reached from its own address is marked for masquerade (the host's table)."""
    t = _t(table)
    lines = [base_script(ranges, table).rstrip("\n")]
    removals: list[str] = []
    body: list[str] = []
    for key, rules in changes:
        existing = existing_of(objects, key)
        lines += [f"delete element {t} {map_name} {{ {element} }}" for map_name, element in existing.elements]
        lines += [f"flush chain {t} {chain}" for chain in existing.chains]
        wanted_chains, wanted_sets, made = _objects(rules, table, mark_hairpin) if rules else ([], [], [])
        removals += [f"delete chain {t} {chain}" for chain in existing.chains if chain not in wanted_chains]
        removals += [f"delete set {t} {name}" for name in existing.sets if name not in wanted_sets]
        body += made
    # every rule that jumps to a chain or reads a set is flushed before any chain or set goes
    return "\n".join(lines + removals + body) + "\n"


def _objects(rules: ServiceRules, table: str, mark_hairpin: bool) -> tuple[list[str], list[str], list[str]]:
    """The chains and sets of a Service, and the lines that make them and their map elements."""
    t = _t(table)
    comment = _quote(rules.label)
    chains: list[str] = []
    sets: list[str] = []
    body: list[str] = []
    for index, port in enumerate(rules.ports):
        chain = _port_chain(rules.key, index)
        chains.append(chain)
        body.append(f"add chain {t} {chain}")
        proto = port.protocol.lower()
        endpoint_chains = []
        for ip, target in dict.fromkeys(port.targets):
            endpoint = _endpoint_name("sep", rules.key, index, ip, target)
            chains.append(endpoint)
            endpoint_chains.append(endpoint)
            body += [f"add chain {t} {endpoint}", f"flush chain {t} {endpoint}"]
            if mark_hairpin:
                body.append(hairpin_rule(t, endpoint, ip))
            if rules.affinity_timeout:
                affinity = _endpoint_name("aff", rules.key, index, ip, target)
                sets.append(affinity)
                body.append(f"add set {t} {affinity} {{ type ipv4_addr ; flags dynamic,timeout ; "
                            f"timeout {rules.affinity_timeout}s ; }}")
                body.append(f"add rule {t} {chain} ip saddr @{affinity} goto {endpoint}")
                body.append(f"add rule {t} {endpoint} update @{affinity} {{ ip saddr }}")
            body.append(f"add rule {t} {endpoint} meta l4proto {proto} dnat ip to {ip}:{target} comment {comment}")
        if endpoint_chains:
            choices = ", ".join(f"{number} : goto {name}" for number, name in enumerate(endpoint_chains))
            body.append(f"add rule {t} {chain} numgen random mod {len(endpoint_chains)} vmap {{ {choices} }}"
                        f" comment {comment}")
        else:
            body.append(f"add rule {t} {chain} goto no-endpoints comment {comment}")
        if rules.cluster_ip:
            body.append(f"add element {t} service-ips {{ {rules.cluster_ip} . {proto} . {port.port} : goto {chain} }}")
        for host_port in port.host_ports:
            body.append(f"add element {t} service-ports {{ {proto} . {host_port} : goto {chain} }}")
    return chains, sets, body


def write_services(changes: list[tuple[str, ServiceRules | None]], ranges: Iterable[str] = (), *,
                   table: str = TABLE) -> None:
    """Make nft hold exactly the given rules for each Service key (None: nothing of it)."""
    if not changes:
        return
    with network_lock():  # what is read here must still be there when the script runs
        objects = table_objects(table)
        if not objects and all(rules is None for _, rules in changes):
            return
        run_nft(service_script(changes, objects, ranges, table), "writing Service rules")
        if table == TABLE:
            write_connect_hook(changes, objects)


def write_connect_hook(changes: list[tuple[str, ServiceRules | None]], objects: list[dict]) -> None:
    """Give the pods' connect hook (net/socketlb.py) the TCP cluster IP ports of these Services, and
    tell it every one the rules hold after this change (`objects`: the table just before it), so it
    drops whatever else it still has. A Service with sessionAffinity keeps its choice in nft alone,
    where the affinity is remembered."""
    from kubeplay.net import socketlb

    changed = {key for key, _ in changes}
    held = {(ip, port) for ip, port, target in tcp_cluster_ports(objects)
            if not any(_owned_by(target, key) for key in changed)}
    wanted: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}
    for _, rules in changes:
        if rules is None or not rules.cluster_ip:
            continue
        for port in rules.ports:
            if port.protocol == "TCP":
                wanted[(rules.cluster_ip, port.port)] = () if rules.affinity_timeout else port.targets
    socketlb.write_entries(held | wanted.keys(), wanted)


def tcp_cluster_ports(objects: list[dict]) -> list[tuple[str, int, str]]:
    """(cluster IP, port, target chain) of each TCP element of `service-ips` in `nft -j` output; an
    element of another shape is skipped."""
    found = []
    for item in objects:
        if "map" not in item or item["map"].get("name") != "service-ips":
            continue
        for parts, target in _map_entries(item["map"]):
            if not isinstance(parts, list) or len(parts) != 3 or str(parts[1]) not in ("tcp", "6"):
                continue
            ip, _, port = parts
            if isinstance(ip, str) and str(port).isdigit():
                found.append((ip, int(port), target))
    return found


def remove_table_if_unused(*, table: str = TABLE) -> bool:
    """Delete the table when no store has a Service chain in it; True when it was deleted."""
    with network_lock():
        objects = table_objects(table)
        if not objects:
            return False
        if any("chain" in item and item["chain"]["name"].startswith(_CHAIN_PREFIXES) for item in objects):
            return False
        run_nft(f"delete table {_t(table)}\n", f"removing nftables table {table}")
        if table == TABLE:
            from kubeplay.net.socketlb import remove_hook

            remove_hook()
        return True


@dataclass(frozen=True)
class HeldPort:
    """A host port or cluster IP some Service (of any store) holds in nft now."""

    holder: str  # the Service, as namespace/name


def held_cluster_ips(objects: list[dict]) -> dict[str, HeldPort]:
    """Cluster IPs in the table, of every store, and who holds each."""
    return {element.split(" . ")[0]: HeldPort(_holder(target))
            for element, target in _elements(objects, "service-ips")}


def held_host_ports(objects: list[dict]) -> dict[tuple[str, int], HeldPort]:
    """(protocol, port) published on the host by Services of every store, and who holds each."""
    held = {}
    for element, target in _elements(objects, "service-ports"):
        proto, _, port = element.partition(" . ")
        if port.isdigit():
            held[(proto.upper(), int(port))] = HeldPort(_holder(target))
    return held


def _elements(objects: list[dict], map_name: str) -> list[tuple[str, str]]:
    for item in objects:
        if "map" in item and item["map"]["name"] == map_name:
            return _map_elements(item["map"])
    return []


def _holder(chain: str) -> str:
    """`namespace/name` of the Service a chain belongs to (its store's mark left out)."""
    name, _, rest = chain.split("_", 1)[0].removeprefix("svc-").partition(".")
    return f"{rest.split('.')[0]}/{name}"


def read_table(*, table: str = TABLE) -> list[dict]:
    return table_objects(table)


def check_free_of_services(ports, pod_name: str, *, table: str = TABLE) -> None:
    """Refuse hostPorts that a Service (of any store) publishes as its nodePort or LoadBalancer port."""
    from kubeplay.errors import ConflictError

    held = held_host_ports(table_objects(table))
    for port in ports:
        holder = held.get(((port.protocol or "TCP").upper(), int(port.host_port or 0)))
        if holder:
            raise ConflictError(
                f"hostPort {port.host_port}/{(port.protocol or 'TCP').upper()} of pod \"{pod_name}\" is already "
                f"published by Service {holder.holder}",
                hint="choose another hostPort, or remove that Service first")


POD_TABLE = "kubeplay-pod-services"


def pod_table_script(rules: Iterable[ServiceRules], ranges: Iterable[str] = (), guarded: str = "") -> str:
    """The whole Service table of one rootless pod's own namespace, replacing what it held, in one
    transaction: the same chains as the host's table, whose endpoints are the other pods' loopback
    forwards as this pod reaches them. `guarded`, when given, is an address that admits only
    connections a Service rule sent there (slirp4netns's view of the host's loopback)."""
    t = _t(POD_TABLE)
    lines = [f"add table {t}", f"delete table {t}",
             # the endpoints are loopback forwards, never the pod's own address on a bridge
             service_script([(rule.key, rule) for rule in rules], [], ranges, POD_TABLE,
                            mark_hairpin=False).rstrip("\n")]
    if guarded:
        # replies go there too (slirp4netns's forwarded connections come from that address): only new
        # connections of the pod's own are refused
        lines += [f"add chain {t} guard {{ type filter hook output priority 0 ; policy accept ; }}",
                  f"add rule {t} guard ip daddr {guarded} ct state != new accept",
                  f"add rule {t} guard ip daddr {guarded} ct status dnat accept",
                  f"add rule {t} guard ip daddr {guarded} meta l4proto tcp reject with tcp reset",
                  f"add rule {t} guard ip daddr {guarded} reject"]
    return "\n".join(lines) + "\n"

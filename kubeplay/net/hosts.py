"""The text of a pod's /etc/hosts and /etc/resolv.conf. Pure: callers read and write the files.

/etc/hosts follows the kubelet's layout (localhost lines, the pod's own names, hostAliases) and adds
the store's Services (SVC.NS.svc.DOMAIN, SVC.NS.svc, SVC.NS, and SVC within the namespace) and every
other kubeplay pod as NAME and NAME.NAMESPACE, so pods find each other without a DNS server.
/etc/resolv.conf follows dnsPolicy: Default and ClusterFirst (there is no cluster DNS here) start
from the host's file, None starts empty; ClusterFirst adds Kubernetes' search domains; dnsConfig is
merged in as Kubernetes does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from kubeplay.model.plan import DnsPlan, HostAlias

HOST_POLICIES = ("Default", "ClusterFirst", "ClusterFirstWithHostNet")
MAX_NAMESERVERS = 3  # what glibc reads; Kubernetes enforces the same
MAX_SEARCHES = 32
NO_NETWORK_ADDRESS = "127.0.1.1"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"  # a pod without an interface still resolves its own name

_LOCALHOST = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def render_hosts(
    pod_name: str,
    namespace: str,
    ip: str,
    peers: Iterable[tuple[str, str, str]],
    host_aliases: Iterable[HostAlias] = (),
    *,
    hostname: str = "",
    subdomain: str = "",
    services: Iterable[tuple[str, tuple[str, ...]]] = (),
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> str:
    """/etc/hosts for a pod. `peers` are (name, namespace, ip) of the other pods; the pod itself
    and peers without an address are skipped. `services` are (ip, names) lines of the Services the
    pod may reach; one name on several lines is a headless Service's pods, and a Service's name
    wins over a pod's of the same name, as Kubernetes' DNS knows Services only."""
    own_names = _own_names(hostname or pod_name, namespace, subdomain, cluster_domain)
    lines = ["# Kubernetes-managed hosts file (kubeplay).\n", _LOCALHOST]
    lines.append(f"{ip or NO_NETWORK_ADDRESS}\t{' '.join(own_names)}\n")
    seen = set(own_names)
    service_lines = []
    named: set[str] = set()
    for service_ip, names in services:
        kept = [n for n in names if n not in seen]
        named.update(kept)
        if kept:
            service_lines.append(f"{service_ip}\t{' '.join(kept)}\n")
    seen |= named
    if service_lines:
        lines.append("\n# Services.\n")
        lines += service_lines
    peer_lines = []
    for name, peer_namespace, peer_ip in sorted(peers):
        if not peer_ip or (name, peer_namespace) == (pod_name, namespace):
            continue
        names = [n for n in (name, f"{name}.{peer_namespace}") if n not in seen]
        seen.update(names)
        if names:
            peer_lines.append(f"{peer_ip}\t{' '.join(names)}\n")
    if peer_lines:
        lines.append("\n# Other kubeplay pods.\n")
        lines += peer_lines
    alias_lines = [f"{alias.ip}\t{chr(9).join(alias.hostnames)}\n" for alias in host_aliases if alias.hostnames]
    if alias_lines:
        lines.append("\n# Entries added by HostAliases.\n")
        lines += alias_lines
    return "".join(lines)


def _own_names(hostname: str, namespace: str, subdomain: str, cluster_domain: str) -> list[str]:
    if subdomain:
        # as the kubelet writes it: the FQDN first, then the short name
        return [f"{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}", hostname]
    return [hostname]


def service_names(name: str, namespace: str, viewer_namespace: str, cluster_domain: str) -> tuple[str, ...]:
    """The names of a Service as a pod of `viewer_namespace` reaches it: the FQDN first (what
    `getent hosts` then shows as the canonical name), the short name only within its namespace."""
    names = [f"{name}.{namespace}.svc.{cluster_domain}", f"{name}.{namespace}.svc", f"{name}.{namespace}"]
    if namespace == viewer_namespace:
        names.append(name)
    return tuple(names)


def cluster_searches(namespace: str, cluster_domain: str) -> tuple[str, ...]:
    """The search domains the kubelet gives a ClusterFirst pod."""
    return (f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain)


def parse_resolv(text: str) -> tuple[list[str], list[str], list[tuple[str, str | None]]]:
    """nameservers, search domains and options of a resolv.conf (the last search line wins)."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[tuple[str, str | None]] = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        keyword, values = fields[0], fields[1:]
        if keyword == "nameserver" and values:
            nameservers.append(values[0])
        elif keyword in ("search", "domain"):
            searches = values
        elif keyword == "options":
            options += [_option(value) for value in values]
    return nameservers, searches, options


def _option(text: str) -> tuple[str, str | None]:
    name, sep, value = text.partition(":")
    return (name, value) if sep else (name, None)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def render_resolv(dns: DnsPlan, host_resolv_text: str, *, keep_loopback: bool = False,
                  searches_first: Iterable[str] = ()) -> str:
    """/etc/resolv.conf for a pod. A loopback nameserver (a host stub resolver) cannot be reached
    from a pod's netns, so it is dropped unless `keep_loopback` (hostNetwork). `searches_first`
    (the cluster's search domains) go before the host's, as the kubelet writes them."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[tuple[str, str | None]] = []
    if dns.policy in HOST_POLICIES:
        nameservers, searches, options = parse_resolv(host_resolv_text)
        searches = list(searches_first) + searches
        if not keep_loopback:
            nameservers = [ns for ns in nameservers if not _is_loopback(ns)]
    nameservers = _unique(nameservers + list(dns.nameservers))[:MAX_NAMESERVERS]
    searches = _unique(searches + list(dns.searches))[:MAX_SEARCHES]
    merged: dict[str, str | None] = dict(options)
    merged.update(dict(dns.options))  # dnsConfig wins over the host for the same option
    lines = [f"nameserver {ns}\n" for ns in nameservers]
    if searches:
        lines.append(f"search {' '.join(searches)}\n")
    if merged:
        rendered = [name if value is None else f"{name}:{value}" for name, value in merged.items()]
        lines.append(f"options {' '.join(rendered)}\n")
    return "".join(lines)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def host_resolv_text(paths: Iterable[Path] = (Path("/etc/resolv.conf"),),
                     stub_fallback: Path = Path("/run/systemd/resolve/resolv.conf")) -> str:
    """The host's resolv.conf; behind a systemd-resolved stub, the upstream file it points at."""
    text = ""
    for path in paths:
        try:
            text = path.read_text()
            break
        except OSError:
            continue
    servers = parse_resolv(text)[0]
    if servers and all(_is_loopback(ns) for ns in servers):
        try:
            return stub_fallback.read_text()
        except OSError:
            pass
    return text

"""Rendering of a pod's /etc/hosts and /etc/resolv.conf."""

from kubeplay.model.plan import DnsPlan, HostAlias
from kubeplay.net.hosts import host_resolv_text, parse_resolv, render_hosts, render_resolv

HOST_RESOLV = """# generated
nameserver 192.0.2.53
nameserver 127.0.0.53
search example.org corp.example
options ndots:2 edns0
"""


def test_hosts_lists_localhost_self_peers_and_aliases():
    text = render_hosts(
        "web", "default", "10.89.0.2",
        peers=[("db", "default", "10.89.0.3"), ("cache", "prod", "10.89.0.4"), ("web", "default", "10.89.0.2")],
        host_aliases=[HostAlias(ip="192.0.2.10", hostnames=("foo.local", "bar.local"))],
    )
    lines = text.splitlines()
    assert "127.0.0.1\tlocalhost" in lines
    assert "10.89.0.2\tweb" in lines
    assert "10.89.0.3\tdb db.default" in lines
    assert "10.89.0.4\tcache cache.prod" in lines
    assert "192.0.2.10\tfoo.local\tbar.local" in lines
    # the pod itself appears once, not again as a peer
    assert sum(1 for line in lines if line.startswith("10.89.0.2")) == 1


def test_hosts_skips_peers_without_address_and_uses_hostname_and_subdomain():
    text = render_hosts("web-0", "ns1", "10.89.0.9", peers=[("down", "ns1", "")],
                        hostname="myhost", subdomain="svc")
    assert "down" not in text
    assert "10.89.0.9\tmyhost.svc.ns1.svc.cluster.local myhost" in text.splitlines()


def test_hosts_without_network_maps_own_name_to_loopback():
    text = render_hosts("lonely", "default", "", peers=[])
    assert "127.0.1.1\tlonely" in text.splitlines()


def test_resolv_default_policy_copies_host_without_loopback_stub():
    text = render_resolv(DnsPlan(policy="Default"), HOST_RESOLV)
    assert text.splitlines() == [
        "nameserver 192.0.2.53",
        "search example.org corp.example",
        "options ndots:2 edns0",
    ]


def test_resolv_cluster_first_merges_dns_config():
    dns = DnsPlan(policy="ClusterFirst", nameservers=("192.0.2.99", "192.0.2.53"),
                  searches=("extra.example",), options=(("ndots", "5"), ("single-request", None)))
    text = render_resolv(dns, HOST_RESOLV)
    assert text.splitlines() == [
        "nameserver 192.0.2.53",
        "nameserver 192.0.2.99",
        "search example.org corp.example extra.example",
        "options ndots:5 edns0 single-request",
    ]


def test_resolv_none_policy_uses_only_dns_config():
    dns = DnsPlan(policy="None", nameservers=("192.0.2.1",), searches=("a.example",))
    assert render_resolv(dns, HOST_RESOLV) == "nameserver 192.0.2.1\nsearch a.example\n"


def test_resolv_keeps_loopback_for_host_network_and_caps_nameservers():
    dns = DnsPlan(policy="Default", nameservers=("192.0.2.7", "192.0.2.8"))
    text = render_resolv(dns, HOST_RESOLV, keep_loopback=True)
    assert [line for line in text.splitlines() if line.startswith("nameserver")] == [
        "nameserver 192.0.2.53", "nameserver 127.0.0.53", "nameserver 192.0.2.7"]


def test_parse_resolv_ignores_comments_and_last_search_wins():
    servers, searches, options = parse_resolv("nameserver 1.2.3.4 # x\nsearch a\nsearch b c\n; nothing\n")
    assert servers == ["1.2.3.4"] and searches == ["b", "c"] and options == []


def test_host_resolv_follows_stub_resolver(tmp_path):
    stub = tmp_path / "resolv.conf"
    stub.write_text("nameserver 127.0.0.53\n")
    upstream = tmp_path / "upstream.conf"
    upstream.write_text("nameserver 192.0.2.1\n")
    assert host_resolv_text([stub], upstream) == "nameserver 192.0.2.1\n"
    plain = tmp_path / "plain.conf"
    plain.write_text("nameserver 192.0.2.2\n")
    assert host_resolv_text([plain], upstream) == "nameserver 192.0.2.2\n"

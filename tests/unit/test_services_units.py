"""Services without root: endpoint selection, the nft script, the store's allocation, the names and
variables pods get, and generate --service playing back to the same Services."""

from __future__ import annotations

import pytest
import yaml

from kubeplay.errors import ConflictError
from kubeplay.generate import GenerateOptions, generate
from kubeplay.model.endpoints import endpoints_of, pod_ready
from kubeplay.model.plan import ContainerPlan, PodPlan, PortMapping
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.model.service import ServicePlan, ServicePort, ServiceRecord
from kubeplay.net import services as nft
from kubeplay.net.hosts import render_hosts, render_resolv
from kubeplay.model.plan import DnsPlan
from kubeplay.pods.servicenames import service_variables
from kubeplay.store.db import Database
from kubeplay.store.services import ServiceSettings, ServiceStore
from tests.unit.generate_support import translate_text


def pod_record(name: str, ip: str, labels: dict, *, status=ContainerStatus.RUNNING, phase=PodPhase.RUNNING,
               namespace: str = "default", port_name: str = "http", hostname: str = "", subdomain: str = "") -> PodRecord:
    container = ContainerPlan(name="c", image="busybox", ports=(PortMapping(8080, name=port_name),))
    plan = PodPlan(name=name, namespace=namespace, labels=labels, containers=(container,),
                   hostname=hostname, subdomain=subdomain)
    member = ContainerRecord(id=name + "-c", pod=name, name="c", role=ContainerRole.MEMBER, plan=container,
                             status=status)
    return PodRecord(name=name, id=name, plan=plan, phase=phase, created_at=0.0, containers=(member,), ip=ip)


WEB = ServicePlan(name="web", selector={"app": "web"},
                  ports=(ServicePort(80, "http", name="http"), ServicePort(81, 9090, name="metrics")))


def record(plan: ServicePlan = WEB, ip: str = "10.96.0.7", ports=None) -> ServiceRecord:
    return ServiceRecord(plan=plan, cluster_ip=ip, ports=ports if ports is not None else plan.ports)


def test_endpoints_are_the_ready_selected_pods_with_ports_resolved_per_pod():
    pods = [pod_record("b", "10.0.0.3", {"app": "web"}), pod_record("a", "10.0.0.2", {"app": "web"}),
            pod_record("other-ns", "10.0.0.4", {"app": "web"}, namespace="shop"),
            pod_record("stopped", "10.0.0.5", {"app": "web"}, phase=PodPhase.STOPPED),
            pod_record("exited", "10.0.0.6", {"app": "web"}, status=ContainerStatus.EXITED),
            pod_record("unnamed", "10.0.0.8", {"app": "web"}, port_name="web"),
            pod_record("db", "10.0.0.9", {"app": "db"})]
    found = endpoints_of(record(), pods)
    assert [a.pod for a in found.addresses] == ["a", "b", "unnamed"]
    http, metrics = found.targets
    assert [(t.ip, t.port) for t in http] == [("10.0.0.2", 8080), ("10.0.0.3", 8080)]  # "unnamed" lacks port http
    assert [(t.ip, t.port) for t in metrics] == [("10.0.0.2", 9090), ("10.0.0.3", 9090), ("10.0.0.8", 9090)]
    assert not pod_ready(pods[3]) and not pod_ready(pods[4]) and pod_ready(pods[0])


def test_an_empty_selector_selects_nothing():
    plan = ServicePlan(name="manual", ports=(ServicePort(80, 80),))
    assert endpoints_of(record(plan), [pod_record("a", "10.0.0.2", {"app": "web"})]).addresses == ()


def test_nft_script_maps_the_vip_to_a_chain_per_port_and_endpoint_chains():
    rules = nft.ServiceRules(key="web.default", label="service default/web", cluster_ip="10.96.0.7",
                             ports=(nft.PortRules("TCP", 80, (("10.0.0.2", 8080), ("10.0.0.3", 8080)), (30080,)),
                                    nft.PortRules("UDP", 53, ())), affinity_timeout=60)
    script = nft.service_script([(rules.key, rules)], [], ["10.96.0.0/16"])
    assert "add element inet kubeplay-services service-ips { 10.96.0.7 . tcp . 80 : goto svc-web.default_p0 }" in script
    assert "add element inet kubeplay-services service-ports { tcp . 30080 : goto svc-web.default_p0 }" in script
    assert ("numgen random mod 2 vmap { 0 : goto sep-web.default_p0_10.0.0.2-8080, "
            "1 : goto sep-web.default_p0_10.0.0.3-8080 }") in script
    assert "meta l4proto tcp dnat ip to 10.0.0.3:8080" in script
    # a replica reaching itself through the Service is marked for masquerade before its DNAT
    lines = script.splitlines()
    hairpin = "add rule inet kubeplay-services sep-web.default_p0_10.0.0.3-8080 ip saddr 10.0.0.3 meta mark set meta mark | 0x4000"
    assert lines.index(hairpin) < next(i for i, line in enumerate(lines) if "dnat ip to 10.0.0.3:8080" in line)
    assert "ip saddr @aff-web.default_p0_10.0.0.2-8080 goto sep-web.default_p0_10.0.0.2-8080" in script
    assert "add rule inet kubeplay-services svc-web.default_p1 goto no-endpoints" in script  # refused, not hanging
    assert "add element inet kubeplay-services service-ranges { 10.96.0.0/16 }" in script


def test_nft_rewrite_deletes_what_went_and_keeps_what_stays():
    objects = [
        {"chain": {"name": "svc-web.default_p0"}}, {"chain": {"name": "sep-web.default_p0_10.0.0.2-8080"}},
        {"chain": {"name": "sep-web.default_p0_10.0.0.9-8080"}}, {"chain": {"name": "svc-web.default.1a2b3c4d_p0"}},
        {"chain": {"name": "svc-webx.default_p0"}},
        {"map": {"name": "service-ips", "elem": [
            [{"concat": ["10.96.0.7", "tcp", 80]}, {"goto": {"target": "svc-web.default_p0"}}],
            [{"concat": ["10.96.0.8", "tcp", 80]}, {"goto": {"target": "svc-webx.default_p0"}}]]}},
    ]
    existing = nft.existing_of(objects, "web.default")
    assert existing.chains == ("svc-web.default_p0", "sep-web.default_p0_10.0.0.2-8080",
                               "sep-web.default_p0_10.0.0.9-8080")  # not another store's, not webx's
    rules = nft.ServiceRules("web.default", "service default/web", "10.96.0.7",
                             (nft.PortRules("TCP", 80, (("10.0.0.2", 8080),)),))
    lines = nft.service_script([("web.default", rules)], objects).splitlines()
    flush = lines.index("flush chain inet kubeplay-services svc-web.default_p0")
    delete = lines.index("delete chain inet kubeplay-services sep-web.default_p0_10.0.0.9-8080")
    assert lines.index("delete element inet kubeplay-services service-ips { 10.96.0.7 . tcp . 80 }") < flush < delete
    assert "delete chain inet kubeplay-services sep-web.default_p0_10.0.0.2-8080" not in lines
    assert nft.held_cluster_ips(objects)["10.96.0.8"].holder == "default/webx"
    gone = nft.service_script([("web.default", None)], objects)
    assert "add element" not in gone.split("service-ranges")[-1] and "delete chain inet kubeplay-services svc-web.default_p0" in gone


def test_store_allocates_in_one_transaction_and_refuses_a_second_service_of_a_name(tmp_path):
    store = ServiceStore(Database(tmp_path / "kubeplay.db"))
    assert store.fix_settings(ServiceSettings("10.96.0.0/16", "cluster.local")) == \
        store.fix_settings(ServiceSettings("10.97.0.0/16", "other"))  # fixed by the first

    def allocate(plan, taken):
        return f"10.96.0.{len(taken.cluster_ips) + 1}", tuple(
            ServicePort(p.port, p.target_port, p.protocol, p.name, 30000 + len(taken.host_ports)) for p in plan.ports)

    nodeport = ServicePlan(name="np", type="NodePort", selector={"a": "b"}, ports=(ServicePort(80, 80),))
    first = store.add(nodeport, allocate)
    second = store.add(ServicePlan(name="web", selector={"a": "b"}, ports=(ServicePort(80, "http"),)), allocate)
    assert (first.cluster_ip, second.cluster_ip) == ("10.96.0.1", "10.96.0.2")
    assert first.ports[0].node_port == 30000
    assert [r.name for r in store.list()] == ["np", "web"] and store.find("default", "web").ports[0].target_port == "http"
    with pytest.raises(ConflictError, match='Service "web" already exists'):
        store.add(ServicePlan(name="web"), allocate)
    assert store.remove("default", "np") and store.remove("default", "web") and not store.any()
    store.clear_settings_if_unused()
    assert store.settings() is None


def test_hosts_name_services_fqdn_first_and_short_only_within_the_namespace():
    services = [("10.96.0.7", ("web.shop.svc.cluster.local", "web.shop.svc", "web.shop", "web")),
                ("10.0.0.2", ("db.shop.svc.cluster.local", "db")), ("10.0.0.3", ("db.shop.svc.cluster.local", "db"))]
    text = render_hosts("client", "shop", "10.0.0.9", [("web", "shop", "10.0.0.5")], services=services)
    assert "10.96.0.7\tweb.shop.svc.cluster.local web.shop.svc web.shop web\n" in text
    assert "10.0.0.2\tdb.shop.svc.cluster.local db\n10.0.0.3\tdb.shop.svc.cluster.local db\n" in text
    assert "10.0.0.5\tweb\n" not in text and "10.0.0.5\tweb.shop\n" not in text  # the Service's name wins
    resolv = render_resolv(DnsPlan(), "nameserver 192.0.2.1\nsearch example.org\n",
                           searches_first=("shop.svc.cluster.local", "svc.cluster.local", "cluster.local"))
    assert "search shop.svc.cluster.local svc.cluster.local cluster.local example.org\n" in resolv


def test_service_variables_are_kubernetes_names():
    plan = ServicePlan(name="my-db", ports=(ServicePort(5432, 5432, name="pg-main"), ServicePort(53, 53, "UDP", "dns")))
    variables = dict(service_variables(record(plan, "10.96.0.9")))
    assert variables["MY_DB_SERVICE_HOST"] == "10.96.0.9" and variables["MY_DB_SERVICE_PORT"] == "5432"
    assert variables["MY_DB_SERVICE_PORT_PG_MAIN"] == "5432"
    assert variables["MY_DB_PORT"] == "tcp://10.96.0.9:5432"
    assert variables["MY_DB_PORT_53_UDP_PROTO"] == "udp" and variables["MY_DB_PORT_53_UDP_ADDR"] == "10.96.0.9"


def test_generate_service_gives_back_the_stored_service_and_it_plays_back_the_same():
    text = """\
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  type: NodePort
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]
"""
    first = translate_text(text)
    [plan] = first.services
    stored = ServiceRecord(plan=plan, cluster_ip="10.96.0.3",
                           ports=(ServicePort(80, "http", "TCP", "http", node_port=30123),))
    generated = generate(first.pods, GenerateOptions(service=True, local_node="n", stored_services=(stored,)))
    service_docs = [doc for doc in yaml.safe_load_all(generated.yaml) if doc["kind"] == "Service"]
    assert len(service_docs) == 1 and "clusterIP" not in service_docs[0]["spec"]
    [again] = translate_text(generated.yaml).services
    assert again.ports == stored.ports  # the node port given out is kept
    assert (again.type, again.selector, again.session_affinity, again.affinity_timeout, again.labels) == \
        ("NodePort", {"app": "web"}, "ClientIP", 60, {"tier": "front"})


def test_rootless_pod_table_sends_the_vip_to_the_endpoints_loopback_forwards():
    from kubeplay.pods.rootlessroutes import _rules
    from kubeplay.rootless.network import Forwards, LoopbackForward

    pods = [pod_record("a", "192.0.2.2", {"app": "web"}), pod_record("b", "192.0.2.2", {"app": "web"})]
    forwards_of = {("default", "a"): Forwards("192.0.2.1", (LoopbackForward("TCP", 8080, 41001),)),
                   ("default", "b"): Forwards("192.0.2.1", (LoopbackForward("TCP", 8080, 41002),))}
    rules = _rules(record(), endpoints_of(record(), pods), "192.0.2.1", forwards_of)
    http, metrics = rules.ports
    assert http.targets == (("192.0.2.1", 41001), ("192.0.2.1", 41002))  # both pods, though their IPs are one
    assert metrics.targets == ()  # 9090 is declared by neither pod: not forwarded, so refused
    script = nft.pod_table_script([rules], ["10.96.0.0/16"])
    lines = script.splitlines()
    assert lines[:2] == ["add table inet kubeplay-pod-services", "delete table inet kubeplay-pod-services"]
    assert "add element inet kubeplay-pod-services service-ips { 10.96.0.7 . tcp . 80 : goto svc-web.default_p0 }" in script
    assert "meta l4proto tcp dnat ip to 192.0.2.1:41002" in script and "guard" not in script
    assert "meta mark" not in script  # a loopback forward is never the pod itself on a bridge
    guarded = nft.pod_table_script([rules], guarded="10.0.2.2")
    assert "add rule inet kubeplay-pod-services guard ip daddr 10.0.2.2 ct status dnat accept" in guarded
    assert "add rule inet kubeplay-pod-services guard ip daddr 10.0.2.2 ct state != new accept" in guarded

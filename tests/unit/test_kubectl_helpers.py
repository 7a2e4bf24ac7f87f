"""Pure parts of the kubectl-style verbs: selectors, durations, port pairs, cgroup figures, default
containers; and port-forward's Forwarder on the host's own network (no pod, no root)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kubeplay.cli.durations import parse_duration, parse_time, since_epoch
from kubeplay.errors import NotFoundError, UserError
from kubeplay.model.plan import ContainerPlan, PodPlan
from kubeplay.model.record import ContainerRecord, ContainerRole, ContainerStatus, PodPhase, PodRecord
from kubeplay.model.selector import parse_selector
from kubeplay.pods.portforward import Forwarder, PortPair, Route, listen_addresses, parse_port_pairs
from kubeplay.pods.targets import default_container, split_reference
from kubeplay.pods.usage import cgroup_dirs, hierarchies, read_usage


@pytest.mark.parametrize("text, labels, matches", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("env in (dev, test)", {"env": "test"}, True),
    ("env in (dev,test)", {"env": "prod"}, False),
    ("env notin (dev,test)", {"env": "prod"}, True),
    ("env notin (dev,test)", {}, True),
    ("tier", {"tier": ""}, True),
    ("tier", {}, False),
    ("!legacy", {"legacy": "1"}, False),
    ("app=web,!legacy,tier in (front)", {"app": "web", "tier": "front"}, True),
    ("example.com/role=edge", {"example.com/role": "edge"}, True),
    ("", {"anything": "x"}, True),
])
def test_selectors_match_as_kubernetes_does(text, labels, matches):
    assert parse_selector(text).matches(labels) is matches


@pytest.mark.parametrize("text, position", [
    ("app=web,", 9), ("app in (a,b", 12), ("=web", 1), ("app=web,,x", 9), ("app web", 5), ("!", 2),
])
def test_a_selector_that_does_not_parse_names_the_position(text, position):
    with pytest.raises(UserError) as error:
        parse_selector(text)
    assert f"column {position}" in error.value.message
    assert error.value.hint


def test_durations_and_times():
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("250ms") == 0.25
    for bad in ("", "5", "5 m", "m", "5d"):
        with pytest.raises(UserError):
            parse_duration(bad)
    assert parse_time("1970-01-01T00:01:00Z") == 60
    assert parse_time("1970-01-01T02:00:00+02:00") == 0
    for bad in ("yesterday", "1970-01-01", "1970-01-01T00:00:00"):
        with pytest.raises(UserError):
            parse_time(bad)
    assert since_epoch(None, None) is None
    assert abs(since_epoch("10s", None) - (time.time() - 10)) < 5
    with pytest.raises(UserError):
        since_epoch("1s", "1970-01-01T00:00:00Z")


def test_port_pairs():
    assert parse_port_pairs(["8080:80", "90", ":70", "9000:http"]) == [
        PortPair(8080, 80), PortPair(90, 90), PortPair(0, 70), PortPair(9000, "http")]
    for bad in ("0", "70000", "x:80", "8080:", "http", "8080:Bad_Name", "99999:80"):
        with pytest.raises(UserError):
            parse_port_pairs([bad])
    with pytest.raises(UserError):
        parse_port_pairs([])


def test_listen_addresses_as_kubectl_takes_them():
    assert listen_addresses("localhost") == ("127.0.0.1",)
    assert listen_addresses("localhost,0.0.0.0, ::1,127.0.0.1") == ("127.0.0.1", "0.0.0.0", "::1")
    with pytest.raises(UserError, match="'example.com' is not an IP address"):
        listen_addresses("127.0.0.1,example.com")


class Answering:
    """A TCP server on 127.0.0.1 that sends `text` to each connection and closes it."""

    def __init__(self, text: bytes) -> None:
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.text = text
        threading.Thread(target=self.answer, daemon=True).start()

    def answer(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client:
                client.sendall(self.text)


def read_from(port: int) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.settimeout(10)
        return b"".join(iter(lambda: connection.recv(100), b""))


def test_a_forwarder_moves_to_the_route_follow_gives_and_ends_when_follow_raises(monkeypatch):
    """follow() is asked every FOLLOW_INTERVAL: new connections go where it says; its error ends serve()."""
    import threading

    monkeypatch.setattr("kubeplay.pods.portforward.FOLLOW_INTERVAL", 0.05)  # the test waits on events, not on time

    first, second = Answering(b"first"), Answering(b"second")
    route = Route("one", "id-1", None, (first.port,))
    looks: list[Route] = []
    may_move, moved, may_end = threading.Event(), threading.Event(), threading.Event()

    def follow(current: Route) -> Route:
        looks.append(current)
        if current.pod_id == "id-1" and may_move.is_set():
            moved.set()
            return Route("two", "id-2", None, (second.port,))
        if may_end.is_set():
            raise NotFoundError('lost connection to pod "two": it was removed')
        return current

    forwarder = Forwarder(route, [0], report=lambda text: None, addresses=("127.0.0.1",))
    [(address, local, remote)] = forwarder.listen()
    assert (address, remote) == ("127.0.0.1", first.port) and local > 0
    ended: list[BaseException] = []

    def serve() -> None:
        try:
            forwarder.serve(follow=follow)
        except NotFoundError as exc:
            ended.append(exc)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        assert read_from(local) == b"first"
        may_move.set()
        assert moved.wait(10)
        assert read_from(local) == b"second"
        may_end.set()
        server.join(10)
        assert not server.is_alive() and "lost connection" in str(ended[0])
    finally:
        forwarder.close()
        first.listener.close()
        second.listener.close()
    assert [look.pod_id for look in looks][-1] == "id-2"


def test_references():
    assert split_reference("web") == ("Pod", "web")
    assert split_reference("deploy/web") == ("Deployment", "web")
    assert split_reference("svc/web") == ("Service", "web")
    assert split_reference("po/web-1") == ("Pod", "web-1")
    with pytest.raises(UserError) as error:
        split_reference("widget/web")
    assert "widget" in error.value.message


def _pod(*names: str, annotations: dict | None = None, init: tuple[str, ...] = ()) -> PodRecord:
    def record(name: str, role: ContainerRole) -> ContainerRecord:
        return ContainerRecord(id=f"id-{name}", pod="p", name=name, role=role, plan=ContainerPlan(name, "img"),
                               status=ContainerStatus.RUNNING)

    containers = ((ContainerRecord(id="infra", pod="p", name="infra", role=ContainerRole.INFRA, plan=None,
                                   status=ContainerStatus.RUNNING),)
                  + tuple(record(n, ContainerRole.INIT) for n in init)
                  + tuple(record(n, ContainerRole.MEMBER) for n in names))
    plan = PodPlan(name="p", annotations=annotations or {})
    return PodRecord(name="p", id="pid", plan=plan, phase=PodPhase.RUNNING, created_at=0.0, containers=containers)


def test_default_container_is_the_annotated_one_else_the_first_with_a_notice():
    notices: list[str] = []
    assert default_container(_pod("only"), None, notices.append).name == "only"
    assert notices == []
    assert default_container(_pod("a", "b", init=("setup",)), None, notices.append).name == "a"
    assert notices == ['Defaulted container "a" out of: setup (init), a, b']
    notices.clear()
    annotated = _pod("a", "b", annotations={"kubectl.kubernetes.io/default-container": "b"})
    assert default_container(annotated, None, notices.append).name == "b"
    assert notices == []
    assert default_container(annotated, "a").name == "a"
    with pytest.raises(NotFoundError):
        default_container(annotated, "c")


HYBRID_MOUNTINFO = """\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v1_figures_through_the_process(tmp_path):
    known = hierarchies(HYBRID_MOUNTINFO.replace("/sys/fs/cgroup", str(tmp_path)))
    _write(tmp_path / "proc/42/cgroup",
           "5:memory:/kubeplay/pod-1/c\n3:cpu,cpuacct:/kubeplay/pod-1/c\n1:name=systemd:/\n0::/kubeplay/pod-1/c\n")
    _write(tmp_path / "cpu,cpuacct/kubeplay/pod-1/c/cpuacct.usage", "2500000000\n")
    _write(tmp_path / "memory/kubeplay/pod-1/c/memory.usage_in_bytes", "10485760\n")
    _write(tmp_path / "memory/kubeplay/pod-1/c/memory.stat", "cache 5\ntotal_inactive_file 4194304\n")
    dirs = cgroup_dirs(42, known, proc=tmp_path / "proc")
    assert dirs["memory"] == tmp_path / "memory/kubeplay/pod-1/c"
    usage = read_usage(dirs)
    assert (usage.cpu_nanos, usage.memory_bytes) == (2_500_000_000, 6 << 20)


def test_cgroup_v2_figures_through_the_process(tmp_path):
    known = hierarchies(f"31 25 0:27 / {tmp_path}/cg rw - cgroup2 cgroup2 rw,nsdelegate\n")
    _write(tmp_path / "proc/7/cgroup", "0::/kubeplay/pod-2/c\n")
    _write(tmp_path / "cg/kubeplay/pod-2/c/cpu.stat", "usage_usec 1500\nuser_usec 1000\n")
    _write(tmp_path / "cg/kubeplay/pod-2/c/memory.current", "3000\n")
    _write(tmp_path / "cg/kubeplay/pod-2/c/memory.stat", "anon 1000\ninactive_file 1000\n")
    usage = read_usage(cgroup_dirs(7, known, proc=tmp_path / "proc"))
    assert (usage.cpu_nanos, usage.memory_bytes) == (1_500_000, 2000)
    assert read_usage(cgroup_dirs(8, known, proc=tmp_path / "proc")) == read_usage({})

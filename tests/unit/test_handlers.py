"""Probe and hook handlers (kubeplay.pods.handlers) against real sockets on 127.0.0.1, in this
process's own network namespace (the integration tests enter pods' namespaces)."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from kubeplay.model.plan import ActionPlan
from kubeplay.pods.handlers import Target, run_handler

HOST = Target("c0ffee", None, "127.0.0.1")


class Answer(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        Answer.seen.append((self.path, dict(self.headers)))
        if self.path == "/slow":
            time.sleep(2)
        status = {"/ok": 200, "/moved": 302, "/missing": 404, "/slow": 200}.get(self.path, 500)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    # shutdown() waits for serve_forever's next look at its flag: look often
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    Answer.seen = []
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def http_get(port: int, path: str, **extra) -> ActionPlan:
    return ActionPlan(kind="httpGet", port=port, path=path, **extra)


@pytest.mark.parametrize(("path", "ok"), [("/ok", True), ("/moved", True), ("/missing", False), ("/error", False)])
def test_http_status_200_to_399_succeeds(server, path, ok):
    result = run_handler(None, http_get(server, path), HOST, 2)
    assert result.ok is ok
    if not ok:
        assert result.message.startswith("HTTP probe failed with statuscode: ")


def test_http_headers_are_sent_with_the_kubelet_user_agent(server):
    action = http_get(server, "/ok", headers=(("X-Probe", "yes"), ("Host", "example.test")))
    assert run_handler(None, action, HOST, 2).ok
    path, headers = Answer.seen[-1]
    assert headers["X-Probe"] == "yes" and headers["Host"] == "example.test"
    assert headers["User-Agent"].startswith("kube-probe/")


def test_http_probe_times_out(server):
    result = run_handler(None, http_get(server, "/slow"), HOST, 0.5)
    assert not result.ok and result.timed_out and "timed out" in result.message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connections_fail_with_the_kubelet_words():
    port = free_port()
    http = run_handler(None, http_get(port, "/"), HOST, 1)
    tcp = run_handler(None, ActionPlan(kind="tcpSocket", port=port), HOST, 1)
    assert not http.ok and http.message == f'Get "http://127.0.0.1:{port}/": connect: connection refused'
    assert not tcp.ok and tcp.message == f"dial tcp 127.0.0.1:{port}: connect: connection refused"


def test_tcp_socket_succeeds_when_something_listens(server):
    assert run_handler(None, ActionPlan(kind="tcpSocket", port=server), HOST, 1).ok


def test_sleep_is_bounded_by_the_timeout():
    began = time.monotonic()
    assert run_handler(None, ActionPlan(kind="sleep", seconds=30), HOST, 0.2).ok
    assert time.monotonic() - began < 5


def test_grpc_is_refused_not_pretended():
    result = run_handler(None, ActionPlan(kind="grpc", port=1), HOST, 1)
    assert not result.ok and "grpc" in result.message

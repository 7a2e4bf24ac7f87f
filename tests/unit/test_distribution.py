"""The distribution client against a small in-process registry on 127.0.0.1.

`FakeRegistry` speaks just enough of the distribution API (manifests, blobs, /v2/, a token
service) and can be told to demand Basic or Bearer auth, fail with 503 first, answer HTML or serve
a corrupt blob. test_pull.py reuses it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kubeplay.errors import AuthError, ContentError, NotFoundError, RegistryError
from kubeplay.images.content import ContentStore
from kubeplay.images.distribution import DOCKER_MANIFEST, OCI_INDEX, RegistryClient
from kubeplay.images.http_auth import parse_challenges
from kubeplay.images.registries import Endpoint


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    auth: str | None = None  # None, "basic" or "bearer"
    user: tuple[str, str] = ("alice", "secret")
    fail_first: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses answered first
    html: bool = False
    corrupt: set[str] = field(default_factory=set)  # blob digests served with wrong bytes
    cut_once: set[str] = field(default_factory=set)  # blob digests whose first answer stops half-way
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def add_blob(self, data: bytes) -> str:
        digest = sha(data)
        self.blobs[digest] = data
        return digest

    def add_manifest(self, repository: str, tag: str, body: dict, media_type: str) -> str:
        data = json.dumps(body).encode()
        digest = sha(data)
        self.manifests[(repository, tag)] = (data, media_type)
        self.manifests[(repository, digest)] = (data, media_type)
        return digest

    def add_image(self, repository: str, tag: str, layers: list[bytes], arch: str = "amd64") -> dict:
        config = json.dumps({"architecture": arch, "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]}}).encode()
        body = {
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": self.add_blob(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": self.add_blob(layer), "size": len(layer)} for layer in layers],
        }
        digest = self.add_manifest(repository, tag, body, DOCKER_MANIFEST)
        return {"digest": digest, "config": body["config"], "layers": body["layers"],
                "size": len(json.dumps(body).encode())}

    def authorized(self, header: str, scope_needed: bool) -> bool:
        if self.auth is None:
            return True
        if self.auth == "basic":
            expected = base64.b64encode(":".join(self.user).encode()).decode()
            return header == f"Basic {expected}"
        return header == "Bearer good-token" or (not scope_needed and header == "Bearer login-token")


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def send(self, status: int, body: bytes = b"", content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            url = urlsplit(self.path)
            authorization = self.headers.get("Authorization", "")
            with registry.lock:
                registry.requests.append((url.path, authorization))
                queued = registry.fail_first.get(url.path)
                status = queued.pop(0) if queued else None
            if status:
                return self.send(status, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
            if registry.html:
                return self.send(200, b"<html><body>Welcome to the portal</body></html>", "text/html")
            if url.path == "/token":
                return self.token(parse_qs(url.query), authorization)
            if not url.path.startswith("/v2/"):
                return self.send(404)
            if not registry.authorized(authorization, scope_needed=url.path != "/v2/"):
                return self.challenge()
            if url.path == "/v2/":
                return self.send(200, b"{}")
            repository, kind, reference = self.split(url.path[len("/v2/"):])
            if kind == "manifests" and (repository, reference) in registry.manifests:
                data, media_type = registry.manifests[(repository, reference)]
                return self.send(200, data, media_type)
            if kind == "blobs" and reference in registry.blobs:
                data = registry.blobs[reference]
                if reference in registry.corrupt:
                    data = b"X" * len(data)
                with registry.lock:
                    cut = reference in registry.cut_once
                    registry.cut_once.discard(reference)
                if cut:  # promise the whole blob, send half, hang up
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return None
                return self.send(200, data, "application/octet-stream")
            return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

        @staticmethod
        def split(rest: str) -> tuple[str, str, str]:
            for kind in ("manifests", "blobs"):
                marker = f"/{kind}/"
                if marker in rest:
                    repository, _, reference = rest.rpartition(marker)
                    return repository, kind, reference
            return rest, "", ""

        def challenge(self) -> None:
            if registry.auth == "basic":
                value = 'Basic realm="fake"'
            else:
                value = f'Bearer realm="http://{registry.host}/token",service="fake-registry"'
            self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', headers={"WWW-Authenticate": value})

        def token(self, query: dict[str, list[str]], authorization: str) -> None:
            with registry.lock:
                registry.token_requests.append(query)
            expected = "Basic " + base64.b64encode(":".join(registry.user).encode()).decode()
            if authorization != expected:
                return self.send(401, b"{}")
            token = "good-token" if query.get("scope") else "login-token"
            self.send(200, json.dumps({"token": token, "expires_in": 300}).encode())

    return Handler


@contextmanager
def running_registry() -> Iterator[FakeRegistry]:
    """A FakeRegistry serving on a free port of 127.0.0.1 until the block ends."""
    fake = FakeRegistry()
    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with running_registry() as fake:
        yield fake


def client_for(registry: FakeRegistry, repository: str = "team/app",
               credentials: tuple[str, str] | None = None) -> RegistryClient:
    return RegistryClient(Endpoint(registry.host, True, repository), image=f"{registry.host}/{repository}:1",
                          credentials=credentials, tls_verify=False, attempts=4, backoff=0.01, timeout=5)


def test_anonymous_manifest_and_blob(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.add_image("team/app", "1", [b"layer-one"])
    client = client_for(registry)
    manifest = client.get_manifest("1")
    assert manifest.digest == image["digest"] and manifest.media_type == DOCKER_MANIFEST
    store = ContentStore(tmp_path)
    layer = image["layers"][0]
    client.fetch_blob(store, layer["digest"], layer["size"])
    assert store.read_bytes(layer["digest"]) == b"layer-one"


def test_manifest_request_accepts_every_format(registry: FakeRegistry) -> None:
    from kubeplay.images.distribution import ACCEPT

    for media_type in ("application/vnd.oci.image.index.v1+json",
                       "application/vnd.docker.distribution.manifest.list.v2+json",
                       "application/vnd.oci.image.manifest.v1+json", DOCKER_MANIFEST):
        assert media_type in ACCEPT


def test_bearer_challenge_token_flow_and_cache(registry: FakeRegistry, tmp_path: Path) -> None:
    registry.auth = "bearer"
    image = registry.add_image("team/app", "1", [b"a", b"b"])
    client = client_for(registry, credentials=("alice", "secret"))
    client.get_manifest("1")
    store = ContentStore(tmp_path)
    for layer in image["layers"]:
        client.fetch_blob(store, layer["digest"], layer["size"])
    assert len(registry.token_requests) == 1, "the token is fetched once and then reused"
    query = registry.token_requests[0]
    assert query["scope"] == ["repository:team/app:pull"] and query["service"] == ["fake-registry"]
    assert query["account"] == ["alice"]
    assert registry.requests[-1][1] == "Bearer good-token"


def test_bearer_with_wrong_password_is_auth_error(registry: FakeRegistry) -> None:
    registry.auth = "bearer"
    registry.add_image("team/app", "1", [b"a"])
    with pytest.raises(AuthError) as caught:
        client_for(registry, credentials=("alice", "wrong")).get_manifest("1")
    assert registry.host in caught.value.message
    assert f"kubeplay login {registry.host}" in (caught.value.hint or "")


def test_basic_auth(registry: FakeRegistry) -> None:
    registry.auth = "basic"
    registry.add_image("team/app", "1", [b"a"])
    client_for(registry, credentials=("alice", "secret")).get_manifest("1")
    with pytest.raises(AuthError):
        client_for(registry).get_manifest("1")
    with pytest.raises(AuthError):
        client_for(registry, credentials=("alice", "nope")).get_manifest("1")


def test_check_login(registry: FakeRegistry) -> None:
    registry.auth = "bearer"
    client_for(registry, credentials=("alice", "secret")).check_login()
    with pytest.raises(AuthError):
        client_for(registry, credentials=("alice", "bad")).check_login()


def test_missing_manifest_names_image_and_tag(registry: FakeRegistry) -> None:
    with pytest.raises(NotFoundError) as caught:
        client_for(registry).get_manifest("nope")
    assert "'nope'" in caught.value.message and "team/app" in caught.value.message


def test_html_answer_is_registry_error(registry: FakeRegistry) -> None:
    registry.html = True
    with pytest.raises(RegistryError) as caught:
        client_for(registry).get_manifest("1")
    assert "JSON manifest" in caught.value.message and "text/html" in caught.value.message


def test_digest_mismatch_stores_nothing(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.add_image("team/app", "1", [b"genuine layer"])
    layer = image["layers"][0]
    registry.corrupt.add(layer["digest"])
    store = ContentStore(tmp_path)
    with pytest.raises(ContentError) as caught:
        client_for(registry).fetch_blob(store, layer["digest"], layer["size"], what="layer")
    assert layer["digest"] in caught.value.message and "team/app" in caught.value.message
    assert not store.has(layer["digest"])
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == [], "no temporary file is left behind"


def test_retry_after_503(registry: FakeRegistry) -> None:
    registry.add_image("team/app", "1", [b"a"])
    registry.fail_first["/v2/team/app/manifests/1"] = [503, 503]
    client_for(registry).get_manifest("1")
    paths = [path for path, _ in registry.requests]
    assert paths.count("/v2/team/app/manifests/1") == 3


def test_persistent_503_gives_up(registry: FakeRegistry) -> None:
    registry.add_image("team/app", "1", [b"a"])
    registry.fail_first["/v2/team/app/manifests/1"] = [503] * 10
    with pytest.raises(RegistryError) as caught:
        client_for(registry).get_manifest("1")
    assert "503" in caught.value.message and "try later" in caught.value.message
    paths = [path for path, _ in registry.requests]
    assert paths.count("/v2/team/app/manifests/1") == 4, "bounded to four attempts"


def test_connection_refused_names_host() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RegistryClient(Endpoint(f"127.0.0.1:{port}", True, "x"), image="x", tls_verify=False,
                            attempts=2, backoff=0.01, timeout=2)
    with pytest.raises(RegistryError) as caught:
        client.get_manifest("latest")
    assert f"127.0.0.1:{port}" in caught.value.message and "refused" in caught.value.message


def test_pulling_by_digest_verifies_manifest(registry: FakeRegistry) -> None:
    image = registry.add_image("team/app", "1", [b"a"])
    manifest = client_for(registry).get_manifest(image["digest"])
    assert manifest.digest == image["digest"]
    wrong = "sha256:" + "0" * 64
    registry.manifests[("team/app", wrong)] = registry.manifests[("team/app", image["digest"])]
    with pytest.raises(ContentError):
        client_for(registry).get_manifest(wrong)


def test_index_media_type_detected(registry: FakeRegistry) -> None:
    registry.add_manifest("team/app", "multi", {"schemaVersion": 2, "manifests": []}, "application/json")
    assert client_for(registry).get_manifest("multi").media_type == OCI_INDEX


def test_schema1_is_refused(registry: FakeRegistry) -> None:
    registry.add_manifest("team/app", "old", {"schemaVersion": 1, "fsLayers": []},
                          "application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(RegistryError, match="schema 1"):
        client_for(registry).get_manifest("old")


@pytest.mark.parametrize("header, expected", [
    ('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"',
     [("bearer", {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull"})]),
    ('Basic realm="x"', [("basic", {"realm": "x"})]),
    ('Bearer realm="r", Basic realm="b"', [("bearer", {"realm": "r"}), ("basic", {"realm": "b"})]),
    ('Bearer realm=r,error="insufficient_scope"', [("bearer", {"realm": "r", "error": "insufficient_scope"})]),
])
def test_parse_challenges(header: str, expected: list) -> None:
    assert [(c.scheme, c.params) for c in parse_challenges(header)] == expected


def test_oci_manifest_is_not_mistaken_for_schema1(registry: FakeRegistry) -> None:
    body = {"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                           "digest": "sha256:" + "1" * 64, "size": 2}, "layers": []}
    registry.add_manifest("team/app", "oci", body, "application/vnd.oci.image.manifest.v1+json")
    assert client_for(registry).get_manifest("oci").media_type == "application/vnd.oci.image.manifest.v1+json"


def test_blob_cut_half_way_is_fetched_again(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.add_image("team/app", "1", [b"0123456789" * 1000])
    layer = image["layers"][0]
    registry.cut_once.add(layer["digest"])
    store = ContentStore(tmp_path)
    client_for(registry).fetch_blob(store, layer["digest"], layer["size"])
    assert store.has(layer["digest"], layer["size"])
    assert [path for path, _ in registry.requests].count(f"/v2/team/app/blobs/{layer['digest']}") == 2

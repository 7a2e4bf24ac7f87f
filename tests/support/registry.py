"""Local docker-registry processes for tests, and a small push client for them.

`Registry.start()` runs `docker-registry serve CONFIG` on 127.0.0.1 with a free port and storage in
a temporary directory, waits until `/v2/` answers, and `stop()` ends exactly that process. An
`auth=(user, password)` registry uses a bcrypt htpasswd file; docker-registry 2.8 serves htpasswd
auth over plain HTTP (it only warns), so no certificate is needed.

`PushClient` uploads blobs, manifests and indexes with urllib (monolithic uploads: POST then PUT
?digest=) and answers a Basic challenge when the registry asks for credentials.

`ThrottledProxy` slows a registry's answers so a test can interrupt a pull half-way; `HtmlServer`
answers HTML to everything, as a captive portal or a misconfigured proxy would.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.imagebuild import Blob, Image, ImageIndex

REGISTRY_BINARY = "docker-registry"
START_TIMEOUT = 10.0


class RegistryUnavailable(RuntimeError):
    """docker-registry is missing or would not start; fixtures turn this into a skip."""


def free_port() -> int:
    # bind-then-release: the port can be taken again before the registry binds it, hence the retries
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_htpasswd(path: Path, user: str, password: str) -> Path:
    result = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True, text=True,
                            timeout=30, check=True)
    path.write_text(result.stdout.strip() + "\n")
    return path


def _direct_opener() -> urllib.request.OpenerDirector:
    # never go through a proxy from the environment: everything here is on 127.0.0.1
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Registry:
    workdir: Path
    auth: tuple[str, str] | None = None
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def storage(self) -> Path:
        return self.workdir / "storage"

    @property
    def user(self) -> str:
        return self.auth[0] if self.auth else ""

    @property
    def password(self) -> str:
        return self.auth[1] if self.auth else ""

    def _write_config(self) -> Path:
        config: dict = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": "kubeplay-test-secret"},
        }
        if self.auth:
            htpasswd = make_htpasswd(self.workdir / "htpasswd", *self.auth)
            config["auth"] = {"htpasswd": {"realm": "kubeplay-test", "path": str(htpasswd)}}
        path = self.workdir / "config.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    def start(self, attempts: int = 3) -> Registry:
        if shutil.which(REGISTRY_BINARY) is None:
            raise RegistryUnavailable(f"{REGISTRY_BINARY} is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        # the registry reads REGISTRY_* overrides from the environment; keep ours out of it
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        for _ in range(attempts):
            self.port = free_port()
            config = self._write_config()
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            if self._wait_ready():
                return self
            self.stop()
        raise RegistryUnavailable(f"{REGISTRY_BINARY} did not start; log: {self.log_path.read_text()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        opener = _direct_opener()
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with opener.open(f"{self.url}/v2/", timeout=2) as response:
                    return response.status == 200
            except urllib.error.HTTPError as exc:
                return exc.code == 401 and self.auth is not None
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def blob_data_path(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes on disk (filesystem driver layout)."""
        hexpart = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def client(self, authenticated: bool = True) -> PushClient:
        return PushClient(self.url, self.auth if authenticated else None)


class PushError(RuntimeError):
    pass


class PushClient:
    """Just enough of the distribution API to put test images into a registry."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None, timeout: float = 60) -> None:
        self.base_url = base_url
        self.auth = auth
        self.timeout = timeout
        self._opener = _direct_opener()
        self._authorization = ""

    def _request(self, method: str, url: str, data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = dict(headers or {})
        for attempt in range(2):
            if self._authorization:
                headers["Authorization"] = self._authorization
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "")
                if exc.code == 401 and attempt == 0 and self.auth and challenge.lower().startswith("basic"):
                    # remembered, so later uploads carry it up front: a 401 in the middle of a
                    # request body would end in a broken pipe rather than a clean retry
                    token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
                    self._authorization = f"Basic {token}"
                    continue
                body = exc.read()[:500]
                raise PushError(f"{method} {url}: HTTP {exc.code}: {body!r}") from exc
        raise PushError(f"{method} {url}: still unauthorized")

    def _absolute(self, location: str) -> str:
        return location if location.startswith("http") else self.base_url + location

    def has_blob(self, repository: str, digest: str) -> bool:
        try:
            self._request("HEAD", f"{self.base_url}/v2/{repository}/blobs/{digest}")
            return True
        except PushError:
            return False

    def push_blob(self, repository: str, blob: Blob | bytes, digest: str | None = None) -> str:
        """Upload bytes under `digest` (their own by default); returns the digest."""
        data = blob.data if isinstance(blob, Blob) else blob
        digest = digest or (blob.digest if isinstance(blob, Blob) else None)
        if digest is None:
            from tests.support.imagebuild import sha256_digest

            digest = sha256_digest(data)
        if self.has_blob(repository, digest):
            return digest
        _, headers, _ = self._request("POST", f"{self.base_url}/v2/{repository}/blobs/uploads/")
        location = self._absolute(headers["Location"])
        separator = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{separator}digest={digest}", data=data,
                      headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        return digest

    def push_manifest(self, repository: str, reference: str, manifest: Blob) -> str:
        self._request("PUT", f"{self.base_url}/v2/{repository}/manifests/{reference}", data=manifest.data,
                      headers={"Content-Type": manifest.media_type})
        return manifest.digest

    def push_image(self, repository: str, tag: str, image: Image) -> str:
        for blob in image.blobs():
            self.push_blob(repository, blob)
        return self.push_manifest(repository, tag, image.manifest)

    def push_index(self, repository: str, tag: str, index: ImageIndex) -> str:
        for image in index.images:
            self.push_image(repository, image.manifest.digest, image)
        return self.push_manifest(repository, tag, index.manifest)


class ThrottledProxy:
    """A TCP relay on 127.0.0.1 in front of a registry that slows its answers down while `throttled`.

    It lets a test catch a pull half-way: `wait_for_bytes(n)` returns once n bytes went to the client.
    """

    def __init__(self, upstream_port: int, bytes_per_tick: int = 64 << 10, tick: float = 0.01) -> None:
        self.upstream_port = upstream_port
        self.bytes_per_tick = bytes_per_tick
        self.tick = tick
        self.throttled = True
        self.sent = 0
        self._progress = threading.Condition()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(60)
                self._sockets.append(sock)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, to_client: bool) -> None:
        try:
            while True:
                data = source.recv(self.bytes_per_tick)
                if not data:
                    break
                sink.sendall(data)
                if to_client:
                    with self._progress:
                        self.sent += len(data)
                        self._progress.notify_all()
                    if self.throttled:
                        time.sleep(self.tick)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def wait_for_bytes(self, count: int, timeout: float = 30) -> bool:
        with self._progress:
            return self._progress.wait_for(lambda: self.sent >= count, timeout=timeout)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            sock.close()


class HtmlServer:
    """An HTTP server on 127.0.0.1 that answers every request with an HTML page, like a captive portal."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _html(self) -> None:
                body = b"<!DOCTYPE html><html><body><h1>Welcome</h1><p>Not a registry.</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = _html

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

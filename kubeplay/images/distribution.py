"""A client of the OCI distribution API for one repository on one registry endpoint.

It pings /v2/, answers authentication challenges (anonymous, Bearer token, Basic), fetches
manifests with the Accept headers of every format kubeplay reads, and streams blobs into the
content store, which verifies size and digest before anything becomes visible. HTTP statuses are
turned into errors that name the image: 401/403 -> AuthError, a missing manifest -> NotFoundError,
anything else unexpected -> RegistryError.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubeplay.errors import AuthError, ContentError, NotFoundError, RegistryError
from kubeplay.images.content import ContentStore, digest_bytes
from kubeplay.images.http_auth import Authenticator
from kubeplay.images.http_transport import Response, TLSFailure, Transport
from kubeplay.images.registries import Endpoint
from kubeplay.logs import get_logger

log = get_logger(__name__)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFESTS = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
MANIFEST_LISTS = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MANIFEST_LIMIT = 4 << 20
# A plain-HTTP server may sit on a TLS hello waiting for a line end; do not wait long for it.
_PROBE_TIMEOUT = 5.0
_SCHEMA1 = frozenset({"application/vnd.docker.distribution.manifest.v1+json",
                      "application/vnd.docker.distribution.manifest.v1+prettyjws"})

# Docker Hub's API lives on another host than the name users write.
_API_HOSTS = {"docker.io": "registry-1.docker.io"}


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as a registry served it: raw bytes, media type, digest."""

    data: bytes
    media_type: str
    digest: str

    @property
    def is_list(self) -> bool:
        return self.media_type in MANIFEST_LISTS

    def json(self) -> dict:
        return json.loads(self.data)


class RegistryClient:
    """Talks to `endpoint` about `endpoint.repository`; `image` is the name used in messages."""

    def __init__(self, endpoint: Endpoint, *, image: str, credentials: tuple[str, str] | None = None,
                 tls_verify: bool | None = None, attempts: int = 4, backoff: float = 0.5,
                 timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self.host = endpoint.host
        self.image = image
        self.attempts = attempts
        self.backoff = backoff
        # --tls-verify wins over registries.conf; insecure registries may also speak plain HTTP.
        self.secure = tls_verify if tls_verify is not None else not endpoint.insecure
        self.transport = Transport(verify_tls=self.secure, timeout=timeout, attempts=attempts, backoff=backoff)
        self.auth = Authenticator(self.transport, self.host, credentials)
        self.scope = f"repository:{endpoint.repository}:pull" if endpoint.repository else ""
        self._base: str | None = None

    # -- the API -----------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the endpoint speaks the v2 API; decides https or (insecure only) http."""
        self._base_url()

    def check_login(self) -> None:
        """Prove the credentials work: /v2/ must answer 200 once the challenge is answered."""
        response = self._get("/v2/", {}, scope="")
        response.close()
        if response.status != 200:
            raise self._unexpected(response, "/v2/")

    def get_manifest(self, reference: str) -> Manifest:
        """The manifest (or list/index) for a tag or digest; a digest reference is verified."""
        path = f"/v2/{self.endpoint.repository}/manifests/{reference}"
        response = self._get(path, {"Accept": ACCEPT})
        if response.status == 404:
            response.close()
            raise NotFoundError(
                f"image {self.image}: manifest {reference!r} not found on {self.host}",
                hint="check the image name and tag (or digest); `kubeplay login` if the repository is private",
            )
        if response.status != 200:
            raise self._unexpected(response, path)
        content_type = response.header("Content-Type").split(";")[0].strip().lower()
        data = response.read(MANIFEST_LIMIT)
        manifest = Manifest(data, _media_type(self.image, self.host, content_type, data), digest_bytes(data))
        if reference.startswith("sha256:") and manifest.digest != reference:
            raise ContentError(f"image {self.image}: manifest from {self.host} has digest {manifest.digest}, "
                               f"not the requested {reference}", hint="the registry is serving corrupt content")
        return manifest

    def fetch_blob(self, store: ContentStore, digest: str, size: int | None, what: str = "blob",
                   on_bytes: Callable[[int], None] | None = None) -> None:
        """Stream a blob into `store`; a cut connection goes on where it stopped (so does a later
        pull after this one was killed), a digest mismatch stores nothing. `on_bytes` is told how
        many bytes are in after each chunk."""
        path = f"/v2/{self.endpoint.repository}/blobs/{digest}"
        label = f"image {self.image}: {what}"
        for attempt in range(1, self.attempts + 1):
            try:
                with store.writer(digest, size, what=label, resume=True) as sink:
                    if size is not None and 0 <= size <= sink.size:
                        if sink.size > size:
                            sink.restart()
                        else:
                            return  # all of it was there: verified as it is stored
                    response = self._blob_response(path, label, digest, sink)
                    for chunk in response.chunks():
                        sink.write(chunk)
                        if on_bytes is not None:
                            on_bytes(sink.size)
                return
            except (OSError, http.client.HTTPException) as exc:
                if attempt == self.attempts:
                    raise RegistryError(f"{label} {digest}: download from {self.host} failed: {exc}",
                                        hint="retry the pull: it goes on from what was downloaded") from exc
                log.debug("blob %s: %s; going on from what was downloaded", digest, exc)
                time.sleep(self.backoff * 2 ** (attempt - 1))

    def _blob_response(self, path: str, label: str, digest: str, sink) -> Response:
        """The blob's bytes from where `sink` stands: a range when it holds some already and the
        registry serves ranges; the whole blob (and `sink` emptied) otherwise."""
        offset = sink.size
        response = self._get(path, {"Range": f"bytes={offset}-"} if offset else {})
        if offset and response.status == 206 and _range_start(response) == offset:
            return response
        if offset and response.status in (206, 416):
            response.close()
            response = self._get(path, {})
        if response.status != 200:
            if response.status == 404:
                response.close()
                raise RegistryError(f"{label} {digest} is missing on registry {self.host}",
                                    hint="the image is incomplete on the registry; push it again")
            raise self._unexpected(response, path)
        if offset:
            sink.restart()  # the registry sent all of it
        return response

    # -- plumbing ----------------------------------------------------------------------------

    def _base_url(self) -> str:
        if self._base is None:
            api_host = _API_HOSTS.get(self.host, self.host)
            schemes = ["https"] if self.secure else ["https", "http"]
            for scheme in schemes:
                base = f"{scheme}://{api_host}"
                try:
                    response = self._probe(base)
                except (TLSFailure, RegistryError):
                    if scheme == schemes[-1]:
                        raise
                    log.debug("%s does not answer over https; trying http", self.host)
                    continue
                if response.status not in (200, 401):
                    raise self._unexpected(response, "/v2/")
                response.close()
                self._base = base
                break
        return self._base or ""

    def _probe(self, base: str) -> Response:
        if base.startswith("https") and not self.secure:
            # The https attempt of an insecure endpoint is a probe: fail fast, then try http.
            probe = Transport(verify_tls=False, timeout=min(self.transport.timeout, _PROBE_TIMEOUT), attempts=1)
            return probe.request("GET", base + "/v2/")
        return self.transport.request("GET", base + "/v2/")

    def _get(self, path: str, headers: dict[str, str], scope: str | None = None) -> Response:
        """GET with authentication: send a cached answer, or answer the 401 challenge once."""
        scope = self.scope if scope is None else scope
        url = self._base_url() + path
        authorization = self.auth.header(scope)
        sent = dict(headers, Authorization=authorization) if authorization else headers
        response = self.transport.request("GET", url, sent)
        if response.status == 401:
            challenge = response.header("WWW-Authenticate")
            response.close()
            if not challenge:
                raise self._denied(401)
            answered = dict(headers, Authorization=self.auth.answer(challenge, scope))
            response = self.transport.request("GET", url, answered)
            if response.status == 401:
                response.close()
                raise self._denied(401)
        if response.status == 403:
            response.close()
            raise self._denied(403)
        return response

    def _denied(self, status: int) -> AuthError:
        why = "unauthorized" if status == 401 else "access denied"
        return AuthError(f"{why}: registry {self.host} refused access to {self.image}",
                         hint=f"check `kubeplay login {self.host}` and that the repository name is right")

    def _unexpected(self, response: Response, path: str) -> RegistryError:
        detail = _registry_error_text(response)
        return RegistryError(
            f"registry {self.host} answered HTTP {response.status} {response.reason} for {path}"
            + (f" ({self.image})" if self.image else "") + (f": {detail}" if detail else ""),
            hint="retry later; if it persists the registry is failing or is not an OCI registry",
        )


def _range_start(response: Response) -> int | None:
    """The first byte a 206 answer holds (`Content-Range: bytes START-END/TOTAL`)."""
    text = response.header("Content-Range")
    unit, _, span = text.partition(" ")
    try:
        return int(span.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def _registry_error_text(response: Response) -> str:
    """The message of a registry's JSON error body ({"errors": [{"code", "message"}]}), if any."""
    try:
        body = json.loads(response.read(64 << 10))
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in body.get("errors", []))
    except (ValueError, AttributeError, TypeError, RegistryError):
        return ""


def _media_type(image: str, host: str, content_type: str, data: bytes) -> str:
    """The manifest's media type from the header, else the body; refuses non-JSON and schema 1."""
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or content_type.startswith("text/html"):
        raise RegistryError(f"registry {host} answered with something other than a JSON manifest for {image}"
                            + (f" ({content_type})" if content_type else ""),
                            hint="check the registry address: a web page or proxy answered instead of a registry")
    if body.get("schemaVersion") == 1 or content_type in _SCHEMA1:
        raise RegistryError(f"image {image} on {host} has a Docker schema 1 manifest, which is not supported",
                            hint="push the image again with a current tool (schema 2 or OCI)")
    declared = body.get("mediaType") or content_type
    if declared in IMAGE_MANIFESTS or declared in MANIFEST_LISTS:
        return declared
    if "manifests" in body:
        return OCI_INDEX
    if "config" in body and "layers" in body:
        return OCI_MANIFEST
    raise RegistryError(f"image {image} on {host} has a manifest of unknown type {declared!r}",
                        hint="kubeplay reads Docker schema 2 and OCI manifests and indexes")

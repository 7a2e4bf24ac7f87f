"""HTTP for the registry client, on the standard library: redirects, bounded retries, typed errors.

One connection per request keeps threads independent (blobs download in parallel). Connection
failures and 5xx/429 answers are retried with exponential backoff a bounded number of times; what
still fails becomes a RegistryError that names the host. TLS failures are not retried: they do not
heal, and the caller may fall back to plain HTTP for an insecure registry.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from kubeplay.errors import RegistryError
from kubeplay.logs import get_logger

log = get_logger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_RETRY_AFTER = 10.0
_CHUNK = 1 << 20


class TLSFailure(RegistryError):
    """The TLS handshake failed (no TLS spoken, or an untrusted certificate)."""


@dataclass
class Response:
    """An HTTP response whose body is still to be read from `raw`."""

    status: int
    reason: str
    url: str
    headers: http.client.HTTPMessage
    raw: http.client.HTTPResponse = field(repr=False)
    connection: http.client.HTTPConnection = field(repr=False)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def read(self, limit: int) -> bytes:
        """The whole body, refusing bodies larger than `limit` (a manifest is never huge)."""
        try:
            data = self.raw.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"reading from {self.url} failed: {exc}", hint="retry the command") from exc
        finally:
            self.close()
        if len(data) > limit:
            raise RegistryError(f"{self.url} answered with more than {limit} bytes",
                                hint="the registry answered something other than what was asked for")
        return data

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces; connection failures surface as OSError/HTTPException for retries."""
        try:
            while chunk := self.raw.read(_CHUNK):
                yield chunk
            # read(amt) ends quietly when the peer hangs up early; the promised length tells.
            if self.raw.length:
                raise http.client.IncompleteRead(b"", self.raw.length)
        finally:
            self.close()

    def close(self) -> None:
        self.connection.close()


class Transport:
    def __init__(self, *, verify_tls: bool = True, timeout: float = 30.0, attempts: int = 4,
                 backoff: float = 0.5, max_redirects: int = 5) -> None:
        self.verify_tls = verify_tls
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_redirects = max_redirects
        self._tls = ssl.create_default_context()
        if not verify_tls:
            self._tls.check_hostname = False
            self._tls.verify_mode = ssl.CERT_NONE

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        """Send a request, following redirects and retrying transient failures.

        A 5xx/429 that persists through every attempt is returned for the caller to explain.
        """
        headers = dict(headers or {})
        for _ in range(self.max_redirects + 1):
            response = self._with_retries(method, url, headers)
            location = response.header("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            response.close()
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                # Blob storage behind a redirect authenticates by signed URL and rejects ours.
                headers.pop("Authorization", None)
            url = target
        raise RegistryError(f"too many redirects fetching {url}", hint="the registry is misconfigured")

    def _with_retries(self, method: str, url: str, headers: dict[str, str]) -> Response:
        host = urlsplit(url).netloc
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self._send(method, url, headers)
            except TLSFailure:
                raise
            except socket.gaierror as exc:
                raise RegistryError(f"cannot resolve registry host {host}: {exc.strerror or exc}",
                                    hint="check the registry name and this host's DNS") from exc
            except (OSError, http.client.HTTPException) as exc:
                # a refused connection is an answer (nothing listens there), not a transient failure
                if last or isinstance(exc, ConnectionRefusedError):
                    raise RegistryError(f"cannot connect to registry {host}: {_describe(exc)}",
                                        hint=f"check that {host} is up and reachable, then retry") from exc
                log.debug("%s %s: %s; retrying", method, url, _describe(exc))
                self._pause(attempt, None)
                continue
            if response.status in RETRY_STATUSES and not last:
                log.debug("%s %s: HTTP %d; retrying", method, url, response.status)
                retry_after = response.header("Retry-After")
                response.close()
                self._pause(attempt, retry_after)
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2 ** (attempt - 1))
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), _MAX_RETRY_AFTER))
        time.sleep(delay)

    def _send(self, method: str, url: str, headers: dict[str, str]) -> Response:
        parts = urlsplit(url)
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout, context=self._tls)
        elif parts.scheme == "http":
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout)
        else:
            raise RegistryError(f"unsupported URL scheme in {url}", hint="registries speak http or https")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            connection.request(method, path, headers={"User-Agent": "kubeplay", **headers})
            raw = connection.getresponse()
        except ssl.SSLError as exc:
            connection.close()
            raise TLSFailure(f"TLS with registry {parts.netloc} failed: {_describe(exc)}",
                             hint=f"use --tls-verify=false or mark {parts.netloc} insecure in registries.conf "
                                  "if it has no trusted certificate") from exc
        except BaseException:
            connection.close()
            raise
        return Response(raw.status, raw.reason, url, raw.headers, raw, connection)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return str(exc) or type(exc).__name__

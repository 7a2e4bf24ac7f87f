"""Registry authentication: WWW-Authenticate challenges, Bearer tokens (fetched and cached), Basic.

The registry answers 401 with a challenge; for Bearer we ask the token service named by `realm`
for a token covering `service` and `scope`, sending the user's credentials as Basic auth if any.
Tokens are cached per scope until shortly before they expire.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from kubeplay.errors import AuthError, RegistryError
from kubeplay.images.http_transport import Transport

_TOKEN_LIMIT = 1 << 20
_DEFAULT_TOKEN_LIFETIME = 60
# A token is renewed this long before it expires, so it does not die in flight.
_EXPIRY_MARGIN = 10
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_SCHEME = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)(?=\s|$|,)")


@dataclass(frozen=True)
class Challenge:
    """One WWW-Authenticate challenge: the scheme and its parameters."""

    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a WWW-Authenticate value, e.g. 'Bearer realm="...",service="...",scope="..."'."""
    challenges: list[Challenge] = []
    position = 0
    while position < len(header):
        scheme = _SCHEME.match(header, position)
        if not scheme:
            break
        params: dict[str, str] = {}
        position = scheme.end()
        while (param := _PARAM.match(header, position)) and param.end() > position:
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            position = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Authenticator:
    """Answers a registry's challenges for one registry host; safe to share between threads."""

    def __init__(self, transport: Transport, host: str, credentials: tuple[str, str] | None) -> None:
        self.transport = transport
        self.host = host
        self.credentials = credentials
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self._basic = False

    def header(self, scope: str) -> str | None:
        """The Authorization value to send up front, from an earlier answer, if still valid."""
        with self._lock:
            if self._basic and self.credentials:
                return basic_header(*self.credentials)
            cached = self._tokens.get(scope)
            if cached and cached[1] > time.monotonic():
                return f"Bearer {cached[0]}"
        return None

    def answer(self, www_authenticate: str, scope: str) -> str:
        """The Authorization value answering a 401's challenge, fetching a token when asked."""
        challenges = {c.scheme: c for c in parse_challenges(www_authenticate)}
        if "bearer" in challenges:
            return f"Bearer {self._token(challenges['bearer'], scope)}"
        if "basic" in challenges:
            if not self.credentials:
                raise self._unauthorized("it requires a login")
            with self._lock:
                self._basic = True
            return basic_header(*self.credentials)
        raise RegistryError(
            f"registry {self.host} asked for unsupported authentication {www_authenticate!r}",
            hint="kubeplay speaks Bearer token and Basic authentication",
        )

    def _token(self, challenge: Challenge, scope: str) -> str:
        realm = challenge.params.get("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"registry {self.host} sent a token challenge without a usable realm: {realm!r}",
                                hint="the registry's token service is misconfigured")
        query = {"service": challenge.params.get("service", "")}
        if scope:
            query["scope"] = scope
        headers = {}
        if self.credentials:
            query["account"] = self.credentials[0]
            headers["Authorization"] = basic_header(*self.credentials)
        url = realm + ("&" if "?" in realm else "?") + urlencode({k: v for k, v in query.items() if v})
        response = self.transport.request("GET", url, headers)
        if response.status in (401, 403):
            response.close()
            raise self._unauthorized("the token service refused the credentials")
        if response.status != 200:
            response.close()
            raise RegistryError(f"token service of {self.host} answered HTTP {response.status} {response.reason}",
                                hint="retry later; the registry's token service is failing")
        body = response.read(_TOKEN_LIMIT)
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
            lifetime = int(data.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError) as exc:
            raise RegistryError(f"token service of {self.host} answered something other than a JSON token",
                                hint="the registry's token service is misconfigured") from exc
        if not token or not isinstance(token, str):
            raise RegistryError(f"token service of {self.host} answered without a token",
                                hint="the registry's token service is misconfigured")
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1))
        return token

    def _unauthorized(self, why: str) -> AuthError:
        state = "with the saved credentials" if self.credentials else "anonymously"
        return AuthError(f"unauthorized: registry {self.host} refused access {state}: {why}",
                         hint=f"check `kubeplay login {self.host}`")

"""Registry credentials in auth.json, read from podman's and docker's places and written to podman's.

Lookup order (the first file holding a matching entry wins), as podman reads them:
an explicit --authfile alone; else $REGISTRY_AUTH_FILE or ${XDG_RUNTIME_DIR}/containers/auth.json
(root: /run/containers/0/auth.json), then $XDG_CONFIG_HOME/containers/auth.json, then
$DOCKER_CONFIG/config.json or $HOME/.docker/config.json. Entries are keyed by host, by host/path
(most specific wins) or by a URL such as https://index.docker.io/v1/.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from pathlib import Path

from kubeplay.config import home_dir, is_rootless
from kubeplay.errors import NotFoundError, UserError

ENV_AUTHFILE = "REGISTRY_AUTH_FILE"
_HUB_KEYS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def write_path(authfile: str | os.PathLike | None = None) -> Path:
    """The file `login` writes and `logout` edits."""
    if authfile:
        return Path(authfile)
    if os.environ.get(ENV_AUTHFILE):
        return Path(os.environ[ENV_AUTHFILE])
    if not is_rootless():
        return Path("/run/containers/0/auth.json")
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return Path(runtime_dir) / "containers" / "auth.json"
    return _config_home() / "containers" / "auth.json"


def read_paths(authfile: str | os.PathLike | None = None) -> list[Path]:
    """The files consulted for credentials, first match wins."""
    if authfile:
        return [Path(authfile)]
    paths = [write_path(), _config_home() / "containers" / "auth.json"]
    docker_dir = os.environ.get("DOCKER_CONFIG")
    paths.append(Path(docker_dir) / "config.json" if docker_dir else home_dir() / ".docker" / "config.json")
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def normalise_key(key: str) -> str:
    """auth.json keys as host[/path]: no scheme, no docker's /v1/ suffix, Docker Hub as docker.io."""
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            # A URL key names only a host; docker writes https://index.docker.io/v1/.
            key = key.split("/", 1)[0]
    key = key.rstrip("/")
    host, sep, path = key.partition("/")
    if host in _HUB_KEYS:
        host = "docker.io"
    return host + sep + path


def lookup(registry: str, authfile: str | os.PathLike | None = None) -> tuple[str, str] | None:
    """(user, password) for `registry` (host or host/repository), or None for anonymous access."""
    wanted = _lookup_keys(normalise_key(registry))
    for path in read_paths(authfile):
        auths = _load(path, missing_ok=True).get("auths", {})
        entries = {normalise_key(key): value for key, value in auths.items() if isinstance(value, dict)}
        for key in wanted:
            credentials = _decode(path, key, entries.get(key))
            if credentials:
                return credentials
    return None


def store_login(registry: str, user: str, password: str, authfile: str | os.PathLike | None = None) -> Path:
    """Save credentials for `registry` in podman's auth.json (mode 0600, replaced atomically)."""
    path = write_path(authfile)
    data = _load(path, missing_ok=True)
    auths = data.setdefault("auths", {})
    key = normalise_key(registry)
    for existing in [k for k in auths if normalise_key(k) == key]:
        del auths[existing]
    auths[key] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}
    _write(path, data)
    return path


def remove_login(registry: str | None, authfile: str | os.PathLike | None = None, all: bool = False) -> Path:
    """Forget `registry`'s credentials, or every registry's with all=True."""
    path = write_path(authfile)
    data = _load(path, missing_ok=True)
    auths = data.get("auths", {})
    if all:
        data["auths"] = {}
    else:
        key = normalise_key(registry or "")
        matching = [k for k in auths if normalise_key(k) == key]
        if not matching:
            raise NotFoundError(f"not logged in to {registry} (no entry in {path})",
                                hint="`kubeplay logout --all` removes every saved login")
        for existing in matching:
            del auths[existing]
    if path.exists():
        _write(path, data)
    return path


def _lookup_keys(key: str) -> list[str]:
    """host/a/b, host/a, host: the most specific entry first."""
    keys = [key]
    while "/" in key:
        key = key.rsplit("/", 1)[0]
        keys.append(key)
    return keys


def _decode(path: Path, key: str, entry: dict | None) -> tuple[str, str] | None:
    if not entry:
        return None
    encoded = entry.get("auth")
    if not encoded:
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: the credentials for {key} are not valid base64 of USER:PASSWORD",
                        hint=f"run `kubeplay login {key}` again or fix {path}") from exc
    if not sep:
        raise UserError(f"{path}: the credentials for {key} lack the ':' between user and password",
                        hint=f"run `kubeplay login {key}` again")
    return user, password


def _load(path: Path, missing_ok: bool) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"cannot read credentials file {path}: {exc}",
                        hint=f"fix or remove {path}, then log in again") from exc
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise UserError(f"{path} is not an auth file: expected {{\"auths\": {{...}}}}",
                        hint=f"fix or remove {path}, then log in again")
    return data


def _write(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".auth-", dir=path.parent)
        try:
            # mkstemp creates 0600 files, so the secret is never readable by others, even briefly.
            with os.fdopen(fd, "w") as file:
                json.dump(data, file, indent="\t")
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"cannot write credentials file {path}: {exc}",
                        hint="pass --authfile with a writable location") from exc


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or home_dir() / ".config")

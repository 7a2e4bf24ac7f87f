"""`image import`: a root filesystem tar (plain or gzip) becomes a one-layer image.

`--change` takes Dockerfile-like instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL,
STOPSIGNAL) written "INSTRUCTION VALUE" or "INSTRUCTION=VALUE". A name without a registry is stored
under localhost/, as podman does.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

from kubeplay.config import Settings
from kubeplay.errors import ContentError, NotFoundError, UserError
from kubeplay.images.commit import LayerBlob, commit_image, free_unused, normalise_name
from kubeplay.images.content import ContentStore, digest_bytes
from kubeplay.images.layers import compression_of, diff_id_of
from kubeplay.images.platform import host_platform
from kubeplay.model.image import ImageRecord

_MEDIA_TYPES = {"": "application/vnd.oci.image.layer.v1.tar",
                "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
                "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
_CHANGE_HINT = "write changes as 'CMD [\"sh\"]', 'ENV KEY=VALUE', 'EXPOSE 80/tcp', 'LABEL k=v', ..."


def _exec_form(instruction: str, value: str) -> list[str]:
    """A JSON array, or the shell form run by /bin/sh -c, as a Dockerfile reads it."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
    if not value:
        raise UserError(f"--change {instruction}: needs a command", hint=_CHANGE_HINT)
    return ["/bin/sh", "-c", value]


def _pairs(instruction: str, value: str) -> dict[str, str]:
    """KEY=VALUE words (quotes allowed), or the legacy single "KEY VALUE" form."""
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise UserError(f"--change {instruction} {value}: {exc}", hint=_CHANGE_HINT) from exc
    if words and "=" not in words[0]:
        key, _, rest = value.partition(" ")
        if not rest.strip():
            raise UserError(f"--change {instruction} {value}: expected KEY=VALUE", hint=_CHANGE_HINT)
        return {key: rest.strip()}
    pairs = {}
    for word in words:
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise UserError(f"--change {instruction} {value}: {word!r} is not KEY=VALUE", hint=_CHANGE_HINT)
        pairs[key] = val
    if not pairs:
        raise UserError(f"--change {instruction}: expected KEY=VALUE", hint=_CHANGE_HINT)
    return pairs


def _port(value: str) -> str:
    number, _, protocol = value.partition("/")
    if not number.isdigit() or not 0 < int(number) < 65536 or protocol not in ("", "tcp", "udp", "sctp"):
        raise UserError(f"--change EXPOSE {value}: not a port[/tcp|udp|sctp]", hint="e.g. EXPOSE 8080/tcp")
    return f"{int(number)}/{protocol or 'tcp'}"


def _single(instruction: str, value: str) -> str:
    if not value:
        raise UserError(f"--change {instruction}: needs a value", hint=_CHANGE_HINT)
    return value


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply --change instructions to the runtime part of an image config; returns it."""
    for change in changes:
        text = change.strip()
        cut = min((i for i in (text.find(" "), text.find("=")) if i > 0), default=len(text))
        instruction, value = text[:cut].upper(), text[cut + 1:].strip()
        if instruction == "CMD":
            config["Cmd"] = _exec_form(instruction, value)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _exec_form(instruction, value)
        elif instruction == "ENV":
            env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
            env.update(_pairs(instruction, value))
            config["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif instruction == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **_pairs(instruction, value)}
        elif instruction == "EXPOSE":
            ports = [_port(word) for word in _single(instruction, value).split()]
            config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in ports}}
        elif instruction == "WORKDIR":
            config["WorkingDir"] = _single(instruction, value)
        elif instruction == "USER":
            config["User"] = _single(instruction, value)
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = _single(instruction, value)
        else:
            raise UserError(
                f"--change {change!r}: unknown instruction {instruction or '(empty)'}",
                hint="supported: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, STOPSIGNAL",
            )
    return config


def _image_config(runtime: dict[str, Any], diff_id: str) -> bytes:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    platform = host_platform()
    config: dict[str, Any] = {
        "created": now,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": now, "created_by": "kubeplay image import", "comment": "imported from a tarball"}],
    }
    if platform.variant:
        config["variant"] = platform.variant
    return json.dumps(config).encode()


def import_rootfs(settings: Settings, tar_path: Path, name: str | None, changes: list[str]) -> ImageRecord:
    tar_path = Path(tar_path)
    runtime = apply_changes({}, changes)  # bad changes fail before anything is stored
    names = [normalise_name(name, "localhost")] if name else []
    if not tar_path.is_file():
        raise NotFoundError(f"rootfs tar {tar_path} does not exist", hint="give the path of a .tar or .tar.gz file")
    with open(tar_path, "rb") as file:
        kind = compression_of(file.read(4))
    content = ContentStore(settings.root)
    blob_digest = _store_file(content, tar_path)
    written = [blob_digest]
    layer = LayerBlob(blob_digest, tar_path.stat().st_size, _MEDIA_TYPES[kind])
    try:
        diff_id = diff_id_of(tar_path) if kind else blob_digest
        config_bytes = _image_config(runtime, diff_id)
        written.append(digest_bytes(config_bytes))
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": digest_bytes(config_bytes), "size": len(config_bytes)},
            "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}],
        }
        manifest_bytes = json.dumps(manifest).encode()
        written.append(digest_bytes(manifest_bytes))
        return commit_image(settings, names=names, manifest_digest=digest_bytes(manifest_bytes),
                            manifest_bytes=manifest_bytes, config_bytes=config_bytes, layers=[layer])
    except ContentError as exc:
        free_unused(settings, blobs=written)  # those of them no other image uses
        raise ContentError(f"cannot import {tar_path}: {exc.message}",
                           hint="give a tar archive of a root filesystem (plain or gzip)") from exc


def _store_file(content: ContentStore, path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    blob_digest = "sha256:" + digest.hexdigest()
    with open(path, "rb") as file:
        content.put_stream(file, blob_digest, path.stat().st_size, what=f"rootfs tar {path}")
    return blob_digest

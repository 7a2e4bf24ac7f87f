"""Random identifiers: pod and container ids (32 hex digits) and Kubernetes uids (UUID version 4).

Made from os.urandom directly: the uuid module loads `platform` (~3 ms) on every play for what is
sixteen random bytes."""

from __future__ import annotations

import os


def random_hex() -> str:
    """32 random hex digits: a pod or container id."""
    return os.urandom(16).hex()


def random_uid() -> str:
    """A random UUID (version 4, RFC 4122 variant) in its usual text form, as Kubernetes gives uids."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

"""ConfigMaps and Secrets of the run, decoded once so env and volumes can read them.

Secret `data` is base64 and `stringData` plain text that wins over `data`, as the API server
merges them; ConfigMap `binaryData` is base64 and only reaches volume files, never env.
"""

from __future__ import annotations

import base64
import binascii

from kubeplay.translate.context import DataSource
from kubeplay.translate.issues import Issues
from kubeplay.translate.loader import Document
from kubeplay.translate.positions import line_of


def data_source(doc: Document, issues: Issues) -> DataSource:
    body = doc.body
    name = (body.get("metadata") or {}).get("name") or ""
    text: dict[str, str] = {}
    binary: dict[str, bytes] = {}
    if doc.kind == "ConfigMap":
        for key, value in (body.get("data") or {}).items():
            text[key] = value or ""
            binary[key] = text[key].encode()
        binary_data = body.get("binaryData") or {}
        for key, value in binary_data.items():
            binary[key] = _decode(value or "", doc, line_of(binary_data, key), f"binaryData.{key}", issues)
    else:
        encoded = body.get("data") or {}
        for key, value in encoded.items():
            binary[key] = _decode(value or "", doc, line_of(encoded, key), f"data.{key}", issues)
        for key, value in (body.get("stringData") or {}).items():
            binary[key] = (value or "").encode()
        # env values are text; bytes that are not UTF-8 survive as surrogate escapes
        text = {key: value.decode("utf-8", "surrogateescape") for key, value in binary.items()}
        body.get("type")  # every Secret type is just data to kubeplay
    body.get("immutable")  # nothing here ever changes a ConfigMap or Secret after play
    return DataSource(kind=doc.kind, name=name, text=text, binary=binary)


def _decode(value: str, doc: Document, line: int, path: str, issues: Issues) -> bytes:
    try:
        # like Go's decoder, line breaks inside the text are ignored
        compact = value.replace("\n", "").replace("\r", "")
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        issues.error(doc.file, line, path, "is not valid base64 (use stringData for plain text)")
        return b""

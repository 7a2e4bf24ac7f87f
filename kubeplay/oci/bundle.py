"""Writing an OCI bundle's config.json: atomically, readable by its owner only.

config.json can hold secrets (env values from Secrets), hence mode 0600. It is written to a
temporary file in the same directory, then renamed, so a runtime never reads half a file; compact,
as the runtime is its only reader (indented JSON goes through the pure-Python encoder). No fsync:
bundles live in the run root and are rewritten before every start, so durability across a crash
buys nothing and would slow every start on disk-backed roots.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from kubeplay.errors import HostError

CONFIG_NAME = "config.json"


def write_bundle(bundle_dir: Path, spec: dict) -> Path:
    """Write `spec` as bundle_dir/config.json (creating bundle_dir, mode 0700); returns its path."""
    target = bundle_dir / CONFIG_NAME
    data = json.dumps(spec).encode()
    # unique per writer: the bundle directory is private, so a name of this process and thread will do
    tmp_name = str(bundle_dir / f".config-{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        bundle_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, target)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
    except OSError as exc:
        raise HostError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint=f"check that {bundle_dir} is on a writable filesystem with free space",
        ) from exc
    return target

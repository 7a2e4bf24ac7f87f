"""The infra container: catatonit as PID 1 on a tiny rootfs, holding the pod's namespaces."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from kubeplay.config import find_catatonit
from kubeplay.model.plan import PodPlan
from kubeplay.pods.engine import Engine


def infra_rootfs(engine: Engine) -> Path:
    """Made once per graph root: /catatonit and the mount points; shared read-only by all infras."""
    rootfs = engine.settings.root / "infra" / "rootfs"
    if (rootfs / "catatonit").exists():
        return rootfs
    import shutil  # made once per graph root, not on every play

    tmp = rootfs.parent / f".rootfs-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for directory in ("proc", "dev", "sys", "etc", "tmp"):
        (tmp / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(find_catatonit("the infra container"), tmp / "catatonit")
    for name in ("hosts", "hostname", "resolv.conf"):
        (tmp / "etc" / name).touch()
    try:
        tmp.rename(rootfs)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another play made it first
    return rootfs


def infra_name(pod: PodPlan) -> str:
    return f"{pod.name}-infra"

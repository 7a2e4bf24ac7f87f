"""Opening a netlink (rtnetlink) session with errors translated.

The session belongs to the network namespace of the thread that opens it: work inside a pod's
namespace opens it from `netns.run_in_netns`. pyroute2 costs 0.2-0.4 s to import, so it is imported
here, inside the function, and only by commands that touch links; `warm_up` starts that import on a
background thread, so it overlaps the runtime calls a play or a down waits on anyway. Any
NetlinkError or OSError raised inside the `with` block becomes a HostError naming what was being done.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import HostError, KubeplayError

WARM_UP_WAIT = 30.0  # seconds; the import takes well under one
_warm_up: threading.Thread | None = None
_warm_up_guard = threading.Lock()


def _import_pyroute2() -> None:
    try:
        import pyroute2.iproute.linux  # noqa: F401
    except Exception:  # noqa: BLE001 - the real import in rtnl reports it properly
        pass


def warm_up() -> None:
    """Start importing pyroute2 on a background thread (once); `rtnl` waits for it to finish."""
    global _warm_up
    with _warm_up_guard:
        if _warm_up is None:
            _warm_up = threading.Thread(target=_import_pyroute2, name="kubeplay-pyroute2", daemon=True)
            _warm_up.start()


def _wait_warm_up() -> None:
    # two threads importing one package at once can meet a half-initialised module: let it finish
    thread = _warm_up
    if thread is not None and thread is not threading.current_thread():
        thread.join(WARM_UP_WAIT)


@contextmanager
def rtnl(doing: str) -> Iterator:
    """An IPRoute in the calling thread's network namespace; `doing` names the step."""
    _wait_warm_up()
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        ipr = IPRoute()
    except (NetlinkError, OSError) as exc:
        raise HostError(f"{doing}: cannot open netlink: {exc}",
                        hint="kubeplay's root networking needs root (CAP_NET_ADMIN)") from exc
    try:
        with ipr:
            yield ipr
    except KubeplayError:
        raise
    except NetlinkError as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        reason = os.strerror(code) if code else str(exc)
        hint = "run as root" if code == errno.EPERM else "check `ip link` and `dmesg` on the host"
        raise HostError(f"{doing}: {reason}", hint=hint) from exc
    except OSError as exc:
        raise HostError(f"{doing}: {exc}", hint="check `ip link` and `dmesg` on the host") from exc


def netlink_code(exc: BaseException) -> int | None:
    """The errno of a translated NetlinkError, to tell 'already gone' from real failures."""
    cause = exc.__cause__
    code = getattr(cause, "code", None)
    return code if isinstance(code, int) else None


def link_index(ipr, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def write_sysctl(key: str, value: str, why: str) -> None:
    """Set /proc/sys/<key> if it differs; `why` goes into the error so the user knows the reason."""
    path = Path("/proc/sys") / key.replace(".", "/")
    try:
        if path.read_text().strip() == value:
            return
        path.write_text(value)
    except OSError as exc:
        raise HostError(f"cannot set {key}={value} ({why}): {exc}",
                        hint=f"run as root, or set it yourself: sysctl -w {key}={value}") from exc

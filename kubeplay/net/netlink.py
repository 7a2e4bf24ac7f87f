"""Opening a netlink (rtnetlink) session, on the host or inside a netns, with errors translated.

pyroute2 costs ~0.3 s to import, so it is imported here, inside the function, and only by commands
that touch links. Any NetlinkError or OSError raised inside the `with` block becomes a HostError
naming what was being done.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubeplay.errors import HostError, KubeplayError


@contextmanager
def rtnl(doing: str, netns: Path | None = None) -> Iterator:
    """An IPRoute for the host, or for the netns bind-mounted at `netns`; `doing` names the step."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        # flags=0: never create a namespace that is missing, fail instead
        ipr = IPRoute(netns=str(netns), flags=0) if netns else IPRoute()
    except (NetlinkError, OSError) as exc:
        where = f"network namespace {netns}" if netns else "the host's netlink"
        raise HostError(f"{doing}: cannot open {where}: {exc}",
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

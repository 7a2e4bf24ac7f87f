"""Whether this host's service manager can run kubeplay's units (`kubeplay generate systemd`): a
finding of `system check`, never required (every command works without systemd)."""

from __future__ import annotations

import os
from pathlib import Path

# sd_booted(): systemd creates this directory early at boot, and only when it is PID 1
SYSTEMD_RUNTIME_DIR = Path("/run/systemd/system")


def pid1_name(proc: Path = Path("/proc")) -> str:
    try:
        return (proc / "1" / "comm").read_text().strip()
    except OSError:
        return "unknown"


def systemd_unavailable_reason(runtime_dir: Path = SYSTEMD_RUNTIME_DIR, proc: Path = Path("/proc"),
                               rootless: bool = False) -> str | None:
    """Why units of kubeplay cannot be run here, or None when they can."""
    if not runtime_dir.is_dir():
        return (f"systemd is not PID 1 here (PID 1 is {pid1_name(proc)}, {runtime_dir} does not exist), as in most "
                "containers: kubeplay's units cannot be started; sd_notify and socket activation still work under "
                "any manager that sets NOTIFY_SOCKET or LISTEN_FDS")
    if rootless:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        if not runtime or not (Path(runtime) / "systemd").is_dir():
            return ("systemd runs, but no user manager for this user (no $XDG_RUNTIME_DIR/systemd): "
                    "`systemctl --user` units cannot be started")
    return None


def units_directory(rootless: bool) -> str:
    return "~/.config/systemd/user" if rootless else "/etc/systemd/system"

"""An executable found on a search path, as `shutil.which` finds it: importing shutil (which loads
the bz2 and lzma modules) would cost ~3 ms on every play."""

from __future__ import annotations

import os


def which(name: str, path: str | None = None) -> str | None:
    """The first executable file called `name` in the directories of `path` (default: $PATH)."""
    search = path if path is not None else os.environ.get("PATH", os.defpath)
    for directory in search.split(os.pathsep):
        candidate = os.path.join(directory, name)
        if directory and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None

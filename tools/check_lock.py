"""Check that requirements.lock pins every dependency pyproject.toml declares, inside its range.

    python tools/check_lock.py [PYPROJECT LOCK]     (default: pyproject.toml requirements.lock)

Runs with the virtualenv's interpreter after the lock is installed (it needs `packaging`, which the
lock brings with pytest). Exit 0 when the lock matches; otherwise exit 1 with one line per problem
and the command that refreshes the lock.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REFRESH = "make lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def declared(pyproject: Path) -> list[Requirement]:
    """The project's runtime dependencies and every optional group's."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        lines += group
    return [Requirement(line) for line in lines]


def pinned(lock: Path) -> dict[str, Version]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def problems(requirements: list[Requirement], pins: dict[str, Version]) -> list[str]:
    found = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            found.append(f"{requirement.name} is declared in pyproject.toml but not pinned in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name}=={version} in the lock is outside pyproject.toml's "
                         f"range {requirement.specifier}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) not in (0, 2):
        print("usage: check_lock.py [PYPROJECT LOCK]", file=sys.stderr)
        return 2
    pyproject, lock = (Path(arg) for arg in argv) if argv else (Path("pyproject.toml"), Path("requirements.lock"))
    if not lock.is_file():
        print(f"error: {lock} is missing\nhint: `{REFRESH}` writes it from pyproject.toml", file=sys.stderr)
        return 1
    found = problems(declared(pyproject), pinned(lock))
    for problem in found:
        print(f"error: {lock}: {problem}", file=sys.stderr)
    if found:
        print(f"hint: `{REFRESH}` refreshes the lock from pyproject.toml's ranges; commit it on its own "
              "with a passing `make test`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Process rlimits for config.json, never above what this host lets us ask for.

The runtime applies rlimits with setrlimit() inside the container. Raising a hard limit above the
current one needs CAP_SYS_RESOURCE, which kubeplay may not hold (rootless, or a confined root), so
asking for the customary 1048576 open files fails the whole container start. Every limit handed to
the runtime is therefore clamped to the host's current hard limit.
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Iterable

from kubeplay.errors import UserError

# The containers.conf `default_ulimits` names and the OCI names they stand for.
ULIMIT_NAMES: dict[str, str] = {
    "core": "RLIMIT_CORE",
    "cpu": "RLIMIT_CPU",
    "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS",
    "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK",
    "as": "RLIMIT_AS",
}

# What containers get by default, as the common Kubernetes runtimes configure it.
DEFAULT_NOFILE = 1048576

HostLimits = Callable[[str], int]


def host_hard_limit(oci_name: str) -> int:
    """The calling process's hard limit for an OCI rlimit name; -1 means unlimited."""
    number = getattr(resource, oci_name, None)
    if number is None:
        return -1
    _, hard = resource.getrlimit(number)
    return -1 if hard == resource.RLIM_INFINITY else hard


def _clamp(value: int, ceiling: int) -> int:
    """`value` limited to `ceiling`; -1 (unlimited) on either side follows the other."""
    if ceiling < 0:
        return value
    if value < 0:
        return ceiling
    return min(value, ceiling)


def clamp_rlimit(oci_name: str, soft: int, hard: int, host: HostLimits = host_hard_limit) -> dict:
    """One OCI rlimit entry with both values clamped to the host's hard limit."""
    ceiling = host(oci_name)
    hard = _clamp(hard, ceiling)
    soft = _clamp(soft, hard)
    # the OCI schema takes unsigned numbers; unlimited is RLIM_INFINITY as uint64
    return {"type": oci_name, "soft": _unsigned(soft), "hard": _unsigned(hard)}


def _unsigned(value: int) -> int:
    return (1 << 64) - 1 if value < 0 else value


def _signed(value: int) -> int:
    """An OCI (uint64) limit back to Python's convention, where -1 is unlimited."""
    return -1 if value >= (1 << 63) else value


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """`nofile=1024:2048` (or `nofile=1024`, `-1` for unlimited) as (OCI name, soft, hard)."""
    name, sep, values = text.partition("=")
    oci_name = ULIMIT_NAMES.get(name.strip().lower())
    soft_text, _, hard_text = values.partition(":")
    try:
        if not sep or oci_name is None:
            raise ValueError(text)
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError as exc:
        raise UserError(
            f"containers.conf default_ulimits entry {text!r} is not NAME=SOFT[:HARD]",
            hint=f"use one of {', '.join(sorted(ULIMIT_NAMES))}, e.g. \"nofile=1024:2048\"",
        ) from exc
    if soft >= 0 and 0 <= hard < soft:
        raise UserError(
            f"containers.conf default_ulimits entry {text!r} has a soft limit above its hard limit",
            hint="make SOFT less than or equal to HARD",
        )
    return oci_name, soft, hard


def default_rlimits(default_ulimits: Iterable[str] = (), host: HostLimits = host_hard_limit) -> list[dict]:
    """RLIMIT_NOFILE 1048576 plus containers.conf `default_ulimits` (which win), all clamped."""
    wanted: dict[str, tuple[int, int]] = {"RLIMIT_NOFILE": (DEFAULT_NOFILE, DEFAULT_NOFILE)}
    for text in default_ulimits:
        oci_name, soft, hard = parse_ulimit(text)
        wanted[oci_name] = (soft, hard)
    return [clamp_rlimit(name, soft, hard, host) for name, (soft, hard) in wanted.items()]


def with_rlimits(rlimits: Iterable[dict], host: HostLimits = host_hard_limit) -> Callable[[dict], None]:
    """Set process.rlimits, replacing entries of the same type; every value is clamped."""
    clamped = [
        clamp_rlimit(r["type"], _signed(int(r["soft"])), _signed(int(r["hard"])), host) for r in rlimits
    ]

    def apply(spec: dict) -> None:
        process = spec.setdefault("process", {})
        by_type = {r["type"]: r for r in process.get("rlimits", [])}
        for entry in clamped:
            by_type[entry["type"]] = entry
        process["rlimits"] = list(by_type.values())

    return apply

"""What execve(2) accepts: a container whose environment or arguments pass these bounds plays, then
fails at every start with "argument list too long". Refused at translation instead, naming the field.

Each string (an argument, or NAME=value) may hold at most MAX_ARG_STRLEN bytes with its NUL; all of
them together, with a pointer each, at most ARG_MAX (sysconf: a quarter of the stack limit).
"""

from __future__ import annotations

import os

MAX_ARG_STRLEN = 32 * 4096
POINTER = 8


_ARG_MAX: list[int] = []  # asked of the system once per process


def arg_max() -> int:
    if not _ARG_MAX:
        try:
            value = os.sysconf("SC_ARG_MAX")
        except (ValueError, OSError):
            value = -1
        _ARG_MAX.append(value if value > 0 else 2 * 1024 * 1024)
    return _ARG_MAX[0]


def string_bytes(text: str) -> int:
    """What one string costs execve, without its pointer: its bytes and the NUL."""
    return len(text.encode("utf-8", "surrogateescape")) + 1


def too_long(text: str) -> str:
    """Why one argument or NAME=value string is too long for execve; "" when it is not."""
    size = string_bytes(text)
    if size <= MAX_ARG_STRLEN:
        return ""
    return f"{size} bytes: one argument or variable may hold at most {MAX_ARG_STRLEN} (128 KiB, MAX_ARG_STRLEN)"


class ExecBudget:
    """The bytes of a container's environment as it is built, a variable replaced giving its back."""

    def __init__(self) -> None:
        self.limit = arg_max()
        self.costs: dict[str, int] = {}
        self.total = 0

    def set(self, name: str, cost: int) -> None:
        self.total += cost + POINTER - self.costs.get(name, 0)
        self.costs[name] = cost + POINTER

    def exhausted(self) -> bool:
        return self.total > self.limit

    def over(self, extra: int) -> str:
        """Why the environment plus `extra` bytes of arguments is too much; "" when it fits."""
        total = self.total + extra
        if total <= self.limit:
            return ""
        return f"{total} bytes of environment and arguments: execve accepts at most {self.limit} (ARG_MAX)"

"""Removal that runs every step: one failing step must not leave the later ones undone.

A removal (of a container, a pod, a network) is a list of independent steps — ask the runtime to
delete its state, end conmon, unmount, delete files. When the runtime cannot be used at all, the
unmount and the file removal must still happen, or a failed play leaves mounts behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def run_every_step(steps: Iterable[Callable[[], object]]) -> None:
    """Run each step even if an earlier one raised; then raise the first error, naming the others."""
    errors: list[BaseException] = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - collected, re-raised below
            errors.append(exc)
    if not errors:
        return
    first = errors[0]
    if len(errors) > 1 and hasattr(first, "hint"):
        others = "; ".join(str(exc) for exc in errors[1:])
        first.hint = f"{first.hint + '; ' if first.hint else ''}also failed: {others}"
    raise first

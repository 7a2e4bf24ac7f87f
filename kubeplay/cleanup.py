"""Removal that runs every step: one failing step must not leave the later ones undone.

A removal (of a container, a pod, a network) is a list of independent steps — ask the runtime to
delete its state, end conmon, unmount, delete files. When the runtime cannot be used at all, the
unmount and the file removal must still happen, or a failed play leaves mounts behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kubeplay.errors import KubeplayError


def run_every_step(steps: Iterable[Callable[[], object]]) -> None:
    """Run each step even if an earlier one raised; then raise the first error, its message naming
    every other failure too (an error of kubeplay's own keeps its type, so its exit code)."""
    errors: list[Exception] = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - collected, re-raised below
            errors.append(exc)
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    first = errors[0]
    text = "; ".join(describe(exc) for exc in errors)
    if isinstance(first, KubeplayError):
        first.message = text
        first.args = (text,)
        raise first
    raise KubeplayError(text, hint="re-running the removal is safe") from first


def describe(exc: BaseException) -> str:
    """One failure in a line: kubeplay's own message, or the type and text of anything else."""
    if isinstance(exc, KubeplayError):
        return exc.message
    return str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"

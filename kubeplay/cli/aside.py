"""Translating manifests in a forked child while this process loads the engine.

`play` and `down` have two halves that need different code: translation (PyYAML and the translate
package, ~60 ms of imports on this class of machine) and the engine (store, runtime, network, ~60 ms).
Once the modules both halves need are loaded, a child is forked to translate while the parent
imports the engine; on two cores they overlap. The child sends back only what play and down use,
pickled over a pipe: the PodPlans, the claims, the warnings and the Services.

The child never speaks to the user. If it fails for any reason — a manifest error, or anything
unexpected — it sends nothing, and the parent translates in-process, so every message and exit code
is the one the plain path gives. No fork when it cannot be safe or useful: stdin as a manifest,
another thread alive (a fork copies only the caller), or the fork itself failing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class Translated:
    """What play and down take from a translation: pods, claims, warnings and Services."""

    def __init__(self, pods: list, claims: list, warnings: list[str], services: list | None = None) -> None:
        self.pods, self.claims, self.warnings = pods, claims, warnings
        self.services = services or []


def begin(translate: Callable[[], Translated], may_fork: bool) -> Callable[[], Translated]:
    """Start `translate` in a child when that is safe; the returned call waits for its result."""
    if not may_fork or threading.active_count() != 1:
        return translate
    import pickle

    import kubeplay.model.plan  # noqa: F401 - both halves need it: loaded once, before the fork

    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return translate
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _translate_and_send(translate, write_end, pickle)
    os.close(write_end)
    return lambda: _receive(pid, read_end, translate, pickle)


def _translate_and_send(translate: Callable[[], Translated], write_end: int, pickle) -> None:
    code = 1
    try:
        result = translate()
        data = pickle.dumps((result.pods, result.claims, result.warnings, result.services),
                            protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        code = 0
    except BaseException:  # noqa: BLE001, S110 - the parent translates again and reports it in its own words
        pass
    finally:
        os._exit(code)  # no atexit handlers, no flushing of buffers copied from the parent


def _receive(pid: int, read_end: int, translate: Callable[[], Translated], pickle) -> Translated:
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        return translate()
    try:
        pods, claims, warnings, services = pickle.loads(data)  # our own child's answer, over our own pipe
    except Exception:  # noqa: BLE001 - an unreadable answer: the in-process translation decides
        return translate()
    return Translated(pods, claims, warnings, services)

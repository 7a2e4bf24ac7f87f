"""Work begun on threads: one call now, waited for later (InBackground), or a few at once (run_together).
Plain threads: a pod has a few calls, and concurrent.futures would load the logging module into
every play."""

from __future__ import annotations

import threading

# calls run at once by run_together: far more than a pod's usual containers, few enough that a pod
# of hundreds neither runs out of descriptors nor starts hundreds of runtimes on a few cores
RUN_TOGETHER_LIMIT = 16


class InBackground:
    """One call begun on its own thread now; `wait` gives its result (or raises its error)."""

    def __init__(self, call, name: str) -> None:
        self._result = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._result = call()
            except BaseException as exc:  # noqa: BLE001 - raised by wait, in the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name=name)
        self._thread.start()

    def settle(self) -> None:
        """Wait for the call to end, whatever its outcome (before an undo step may run)."""
        join_all([self._thread])

    def wait(self):
        self.settle()
        if self._error is not None:
            raise self._error
        return self._result


def run_together(calls: list, limit: int = RUN_TOGETHER_LIMIT) -> list:
    """Call each on a thread of its own, at most `limit` at once (a pod of 500 containers must not
    start 500 conmons together: every start holds descriptors until it is done); wait for all of
    them (nothing runs on once this returns), then raise the first error, or return the results in
    order."""
    results: list = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)
    pending = iter(range(len(calls)))
    guard = threading.Lock()

    def next_index() -> int | None:
        with guard:
            return next(pending, None)

    def run() -> None:
        while (index := next_index()) is not None:
            try:
                results[index] = calls[index]()
            except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
                errors[index] = exc

    threads = [threading.Thread(target=run, name=f"kubeplay-together-{number}")
               for number in range(min(len(calls), limit))]
    for thread in threads:
        thread.start()
    join_all(threads)
    for error in errors:
        if error is not None:
            raise error
    return results


def join_all(threads: list[threading.Thread]) -> None:
    """Join every thread. An interrupt (a signal) while waiting is raised only once all have ended:
    the roll-back it starts must not remove what a thread is still making."""
    interrupted: BaseException | None = None
    for thread in threads:
        while True:
            try:
                thread.join()
                break
            except KeyboardInterrupt as exc:
                interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted

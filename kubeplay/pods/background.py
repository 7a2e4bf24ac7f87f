"""Work begun on threads: one call now, waited for later (InBackground), or a few at once (run_together).
Plain threads: a pod has a few calls, and concurrent.futures would load the logging module into
every play."""

from __future__ import annotations

import threading


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
        self._thread.join()

    def wait(self):
        self.settle()
        if self._error is not None:
            raise self._error
        return self._result


def run_together(calls: list) -> list:
    """Call each on its own thread; wait for all of them (nothing runs on once this returns), then
    raise the first error, or return the results in order."""
    results: list = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            errors[index] = exc

    threads = [threading.Thread(target=run, args=(index,), name=f"kubeplay-together-{index}")
               for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results

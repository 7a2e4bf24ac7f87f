"""kubeplay's loggers, with the logging module loaded only once a line is to be written.

Most commands write no log line at the chosen level, so they need not import logging at all.
Each module takes `log = get_logger(__name__)`; `configure` (called once with
the global options) sets the level and, the first time a line passes it, the logging module is
loaded and set up: `LEVEL: message` on stderr, kubeplay's loggers at the chosen level, every
other library's at warnings.
"""

from __future__ import annotations

import sys

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_state = {"threshold": LEVELS["warning"], "configured": False}


def configure(level: str, debug: bool = False) -> None:
    _state["threshold"] = LEVELS["debug"] if debug else LEVELS[level]
    if "logging" in sys.modules:  # a library loaded it already: its warnings get our format now
        _logging()


def _logging():
    import logging

    if not _state["configured"]:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
        _state["configured"] = True
    logging.getLogger("kubeplay").setLevel(_state["threshold"])
    return logging


class Logger:
    """The few methods kubeplay's modules use, each a no-op below the configured level."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _write(self, level: int, message: str, args: tuple) -> None:
        if level >= _state["threshold"]:
            _logging().getLogger(self.name).log(level, message, *args)

    def debug(self, message: str, *args) -> None:
        self._write(LEVELS["debug"], message, args)

    def info(self, message: str, *args) -> None:
        self._write(LEVELS["info"], message, args)

    def warning(self, message: str, *args) -> None:
        self._write(LEVELS["warning"], message, args)

    def error(self, message: str, *args) -> None:
        self._write(LEVELS["error"], message, args)


def get_logger(name: str) -> Logger:
    return Logger(name)

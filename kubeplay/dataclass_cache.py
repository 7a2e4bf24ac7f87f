"""Dataclass methods compiled once per Python build, not on every start of a command.

`@dataclass` writes the source of each method it adds (__init__, __repr__, __eq__, __hash__, and
__setattr__/__delattr__ for a frozen class) and compiles it with exec(): ~0.2 ms a method, which
for the ~45 classes a play loads was ~50 ms of its start-up. The source depends only on a class's
fields and options, so its compiled code can be kept the way Python keeps a .pyc: install() gives
the dataclasses module an exec that looks each source up in a marshal file under kubeplay's
__pycache__ and compiles only what is not there; at exit a file is rewritten if something new was
compiled for it and bytecode may be written (not under PYTHONDONTWRITEBYTECODE, nor where the
directory is read-only). There is one file per module that defines dataclasses, read when the
module first defines one: a command reads the methods of the classes it loads, not all ~460 (the
whole set took ~4 ms to read). A module's classes are all defined when it is imported, so its file
keeps exactly the sources its last import used: an edited class leaves nothing stale behind. Files
are tied to the exact Python build (code objects are not portable); a missing, stale or unreadable
file only means compiling as before.

dataclasses is imported without inspect and copy (kubeplay.lean_imports).

No `from __future__ import annotations` here: compile() takes the caller's future flags, and the
methods must be compiled exactly as dataclasses' own exec would compile them (dont_inherit=True).
"""

import atexit
import builtins
import marshal
import os
import sys

CACHE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__", "dataclass-methods")
_BUILD_KEY = "\0python build"  # not a method source: the build a file's code objects belong to


class _Cache:
    def __init__(self, directory):
        self.directory = directory
        self.codes = {}  # module name -> {method source: code}
        self.used = {}  # module name -> the sources this process looked up
        self.missed = set()  # modules with a method compiled here
        self.compiled = 0

    def exec(self, source, globals=None, locals=None, /):
        if isinstance(source, str):
            module = globals.get("__name__", "") if globals else ""
            codes = self.codes.get(module)
            if codes is None:
                codes = self.codes[module] = _load(self._file(module))
                self.used[module] = set()
            code = codes.get(source)
            if code is None:
                code = codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
                self.compiled += 1
                self.missed.add(module)
            self.used[module].add(source)
            source = code
        return builtins.exec(source, globals, locals)

    def save(self, always=False):
        if not always and (not self.missed or sys.dont_write_bytecode):
            return
        for module in self.codes if always else self.missed:
            codes = self.codes[module]
            _write(self._file(module), {source: codes[source] for source in self.used[module]})

    def _file(self, module):
        return os.path.join(self.directory, f"{module or '-'}.{sys.implementation.cache_tag}.marshal")


def _load(path):
    try:
        with open(path, "rb") as cached:
            codes = marshal.loads(cached.read())  # marshal.load() on the file object is ~5x slower
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(codes, dict) or codes.pop(_BUILD_KEY, None) != sys.version:
        return {}
    return codes


def _write(path, codes):
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as out:
            marshal.dump({**codes, _BUILD_KEY: sys.version}, out)
        os.replace(temporary, path)  # readers see the old file or the new one, whole
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


_installed = None


def install(directory=CACHE_DIR):
    """Route dataclasses' exec through the cache (once per process); returns the cache."""
    global _installed
    if _installed is None:
        from kubeplay.lean_imports import import_dataclasses

        dataclasses = import_dataclasses()
        _installed = _Cache(directory)
        dataclasses.exec = _installed.exec  # a module global shadows the builtin for its one caller
        atexit.register(_installed.save)
    return _installed


def warm():
    """Compile the methods of every kubeplay dataclass into the cache now, as compileall does for
    modules (`python -m kubeplay.dataclass_cache`, run by `make`)."""
    import importlib
    import pkgutil

    import kubeplay

    cache = install()
    for module in pkgutil.walk_packages(kubeplay.__path__, "kubeplay."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    cache.save(always=True)


if __name__ == "__main__":
    warm()

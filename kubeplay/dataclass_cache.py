"""Dataclass methods compiled once per Python build, not on every start of a command.

`@dataclass` writes the source of each method it adds (__init__, __repr__, __eq__, __hash__, and
__setattr__/__delattr__ for a frozen class) and compiles it with exec(): ~0.2 ms a method, which
for the ~45 classes a play loads was ~50 ms of its start-up. The source depends only on a class's
fields and options, so its compiled code can be kept the way Python keeps a .pyc: install() gives
the dataclasses module an exec that looks each source up in a marshal file under kubeplay's
__pycache__ and compiles only what is not there; at exit the file is rewritten if something new was
compiled and bytecode may be written (not under PYTHONDONTWRITEBYTECODE, nor where the directory is
read-only). The file is tied to the exact Python build (code objects are not portable); a missing,
stale or unreadable file only means compiling as before.

Importing dataclasses also imports inspect (~12 ms: ast, dis, tokenize...), which it calls only
to write a docstring for a class that has none. install() imports dataclasses with a stand-in for
inspect that imports the real module on first use; kubeplay's own dataclasses all have docstrings,
so the commands never load it.

No `from __future__ import annotations` here: compile() takes the caller's future flags, and the
methods must be compiled exactly as dataclasses' own exec would compile them (dont_inherit=True).
"""

import atexit
import builtins
import marshal
import os
import sys
import types

CACHE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__",
                          f"dataclass-methods.{sys.implementation.cache_tag}.marshal")
_BUILD_KEY = "\0python build"  # not a method source: the build the file's code objects belong to
_MOST_KEPT = 3000  # past this, a save keeps only what this process used: stale sources do not pile up


class _Cache:
    def __init__(self, path):
        self.path = path
        self.codes = _load(path)
        self.used = set()
        self.compiled = 0

    def exec(self, source, globals=None, locals=None, /):
        if isinstance(source, str):
            code = self.codes.get(source)
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.codes[source] = code
                self.compiled += 1
            self.used.add(source)
            source = code
        return builtins.exec(source, globals, locals)

    def save(self, always=False):
        if not always and (not self.compiled or sys.dont_write_bytecode):
            return
        kept = self.codes if len(self.codes) <= _MOST_KEPT else {s: self.codes[s] for s in self.used}
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(temporary, "wb") as out:
                marshal.dump({**kept, _BUILD_KEY: sys.version}, out)
            os.replace(temporary, self.path)  # readers see the old file or the new one, whole
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _load(path):
    try:
        with open(path, "rb") as cached:
            codes = marshal.loads(cached.read())  # marshal.load() on the file object is ~5x slower
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(codes, dict) or codes.pop(_BUILD_KEY, None) != sys.version:
        return {}
    return codes


_installed = None


def install(path=CACHE_FILE):
    """Route dataclasses' exec through the cache (once per process); returns the cache."""
    global _installed
    if _installed is None:
        dataclasses = _import_dataclasses()
        _installed = _Cache(path)
        dataclasses.exec = _installed.exec  # a module global shadows the builtin for its one caller
        atexit.register(_installed.save)
    return _installed


class _InspectOnFirstUse(types.ModuleType):
    """Stands in for inspect in the dataclasses module until an attribute is asked for."""

    def __getattr__(self, name):
        import inspect

        sys.modules["dataclasses"].inspect = inspect
        return getattr(inspect, name)


def _import_dataclasses():
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        import dataclasses

        return dataclasses
    sys.modules["inspect"] = _InspectOnFirstUse("inspect")
    try:
        import dataclasses
    finally:
        if isinstance(sys.modules.get("inspect"), _InspectOnFirstUse):
            del sys.modules["inspect"]  # everyone else imports the real module
    return dataclasses


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

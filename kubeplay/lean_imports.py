"""Two standard modules imported without the dependencies kubeplay's commands never reach.

`import dataclasses` also imports inspect (~12 ms: ast, dis, tokenize...), which it calls only to
write a docstring for a class that has none, and copy (with weakref), which only asdict/astuple of
nested values and `replace` of InitVar fields need. `import pathlib` also imports urllib.parse
(~4 ms with ipaddress) for Path.as_uri() alone, ntpath for PureWindowsPath, warnings for two
deprecated methods and fnmatch for glob() and match(). Each is imported
here with a stand-in in the dependency's place: the importing module keeps the stand-in, which
imports the real module the first time one of its attributes is asked for, so the rare caller still
gets the real thing. The stand-in leaves sys.modules as soon as the import is done: everyone else
imports the real module.
"""

import sys
import types


class _OnFirstUse(types.ModuleType):
    """Stands in for a module until an attribute is asked for; then it is the real module's twin."""

    def __getattr__(self, name):
        if name.startswith("__"):  # the import system's own probes (__path__ for a from-import)
            raise AttributeError(name)
        return getattr(self.real(), name)

    def real(self):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        __import__(self.__name__)
        real = sys.modules[self.__name__]
        self.__dict__.update(real.__dict__)  # later lookups are plain attribute reads
        return real


def _forwarder(stand_in, name):
    def forward(*args, **kwargs):
        return getattr(stand_in.real(), name)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = name
    return forward


def import_lean(module, deferred, forwarded=()):
    """`import module` with each of `deferred` standing in until used; `forwarded` names a deferred
    module's functions that `module` takes with `from X import f` while it is being imported."""
    if module in sys.modules or any(name in sys.modules for name in deferred):
        return __import__(module)  # too late, or not needed: the real modules are there already
    stand_ins = {name: _OnFirstUse(name) for name in deferred}
    for qualified in forwarded:
        name, _, function = qualified.rpartition(".")
        setattr(stand_ins[name], function, _forwarder(stand_ins[name], function))
    sys.modules.update(stand_ins)
    try:
        __import__(module)
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
    return sys.modules[module]


def import_dataclasses():
    return import_lean("dataclasses", ("inspect", "copy"))


def import_pathlib():
    return import_lean("pathlib", ("urllib.parse", "ntpath", "warnings", "fnmatch"),
                       forwarded=("urllib.parse.quote_from_bytes",))

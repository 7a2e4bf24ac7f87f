"""Dataclasses processed once per Python build, not on every start of a command.

`@dataclass` writes the source of each method it adds (__init__, __repr__, __eq__, __hash__, and
__setattr__/__delattr__ for a frozen class) and compiles it with exec(): ~0.2 ms a method, which
for the ~45 classes a play loads was ~50 ms of its start-up. The source depends only on a class's
fields and options, so its compiled code can be kept the way Python keeps a .pyc: install() gives
the dataclasses module an exec that looks each source up in a marshal file under kubeplay's
__pycache__ and compiles only what is not there.

Even with the methods compiled, working out a class (its Field objects, the text of each method)
took ~0.3 ms of Python a class, ~10 ms of `generate`. So the file also keeps, per class, a recipe:
the sources its processing exec'd, under a fingerprint of everything those sources depend on (the
decorator's options, each annotation's name and text, which fields have defaults or factories and
their field() flags, __post_init__). A class with the same fingerprint is rebuilt from the recipe:
the same Field objects, and the same functions, made by the same cached code from the same values,
in the same order. Only the plain shape kubeplay uses is replayed (no base class, order, slots,
kw_only, hand-written dunders, ClassVar or InitVar); anything else goes through dataclasses as is,
and a unit test compares every kubeplay dataclass built both ways.

There is one file per module that defines dataclasses, read when the module first defines one: a
command reads what the classes it loads need (the single file of all ~460 methods took ~4 ms to
read). A module's classes are all defined when it is imported, so its file keeps exactly what its
last import used: an edited class leaves nothing stale behind. At exit a file is rewritten if
something new was compiled or recorded for it and bytecode may be written (not under
PYTHONDONTWRITEBYTECODE, nor where the directory is read-only). Files are tied to the exact Python
build (code objects are not portable); a missing, stale or unreadable file only means processing
classes as dataclasses does.

dataclasses is imported without inspect and copy (kubeplay.lean_imports).

No `from __future__ import annotations` here: compile() takes the caller's future flags, and the
methods must be compiled exactly as dataclasses' own exec would compile them (dont_inherit=True).
"""

import atexit
import builtins
import marshal
import os
import sys
from types import FunctionType

CACHE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__", "dataclass-methods")
_BUILD_KEY = "\0python build"  # not a method source: the build a file's code objects belong to
_RECIPE = "\0class"  # a recipe's key: (_RECIPE, qualname, frozen, has __post_init__, fields' shape)
_SET_BY_DATACLASSES = ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__", "__hash__", "__match_args__")


class _Cache:
    def __init__(self, directory):
        self.directory = directory
        self.codes = {}  # module name -> {method source: code, recipe key: the codes of its methods}
        self.used = {}  # module name -> the keys this process looked up
        self.missed = set()  # modules with something compiled or recorded here
        self.compiled = 0
        self.replayed = 0
        self.recording = None  # the sources exec'd for the class being processed, in order

    def exec(self, source, globals=None, locals=None, /):
        if isinstance(source, str):
            module = globals.get("__name__", "") if globals else ""
            codes = self.codes_of(module)
            code = codes.get(source)
            if code is None:
                code = codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
                self.compiled += 1
                self.missed.add(module)
            if self.recording is None:
                self.used[module].add(source)
            else:
                self.recording.append(source)  # kept in the recipe if the class gets one, else kept as is
            source = code
        return builtins.exec(source, globals, locals)  # noqa: S102 - dataclasses' own exec, cached

    def process_class(self, original, cls, *params):
        """dataclasses._process_class, from the class's recipe when there is one that fits."""
        dataclasses = sys.modules["dataclasses"]
        key = _fingerprint(dataclasses, cls, params)
        if key is None:
            return original(cls, *params)
        module = cls.__module__ if cls.__module__ in sys.modules else ""
        codes = self.codes_of(module)
        recipe = codes.get(key)
        if recipe is not None and _replay(dataclasses, cls, params, module, recipe):
            self.used[module].add(key)
            self.replayed += 1
            return cls
        outer, self.recording = self.recording, []
        try:
            result = original(cls, *params)
            sources = self.recording
        finally:
            self.recording = outer
        recipe = tuple(_create_fn_code(codes.get(source)) for source in sources)
        if None not in recipe and _recordable(dataclasses, result, params, recipe):
            codes[key] = recipe  # without the sources, nor the code that only defines __create_fn__
            self.used[module].add(key)
            self.missed.add(module)
        else:
            self.used[module].update(sources)
        return result

    def codes_of(self, module):
        codes = self.codes.get(module)
        if codes is None:
            codes = self.codes[module] = _load(self._file(module))
            self.used[module] = set()
        return codes

    def save(self, always=False):
        if not always and (not self.missed or sys.dont_write_bytecode):
            return
        for module in self.codes if always else self.missed:
            codes = self.codes[module]
            _write(self._file(module), {key: codes[key] for key in self.used[module]})

    def _file(self, module):
        return os.path.join(self.directory, f"{module or '-'}.{sys.implementation.cache_tag}.marshal")


def _fingerprint(dataclasses, cls, params):
    """Everything the sources of a class's methods depend on; None for a class not replayed."""
    init, repr_, eq, order, unsafe_hash, frozen, match_args, kw_only, slots, weakref_slot = params
    if not (init and repr_ and eq and match_args) or order or unsafe_hash or kw_only or slots or weakref_slot:
        return None
    namespace = cls.__dict__
    if cls.__bases__ != (object,) or not namespace.get("__doc__"):
        return None  # inherited fields, or a docstring that dataclasses would write with inspect
    if any(name in namespace for name in _SET_BY_DATACLASSES):
        return None
    field_type, missing = dataclasses.Field, dataclasses.MISSING
    annotations = namespace.get("__annotations__", {})
    shape = []
    for name, text in annotations.items():
        if not isinstance(text, str) or "ClassVar" in text or "InitVar" in text or "KW_ONLY" in text:
            return None
        default = getattr(cls, name, missing)
        if isinstance(default, field_type):
            if default.default is not missing and type(default.default).__hash__ is None:
                return None  # dataclasses refuses a mutable default: let it say so
            shape.append((name, text, default.default is not missing, default.default_factory is not missing,
                          default.init, default.repr, default.hash, default.compare,
                          None if default.kw_only is missing else default.kw_only))
        elif default is missing:
            shape.append((name, text))
        elif type(default).__hash__ is None:
            return None
        else:
            shape.append((name, text, True))
    if any(isinstance(value, field_type) and name not in annotations for name, value in namespace.items()):
        return None  # a field() without an annotation: dataclasses says what is wrong
    return (_RECIPE, cls.__qualname__, bool(frozen), hasattr(cls, "__post_init__"), tuple(shape))


def _recordable(dataclasses, cls, params, codes):
    """Whether dataclasses built `cls` the way _replay rebuilds it from these codes."""
    frozen = params[5]
    fields = cls.__dict__.get("__dataclass_fields__", {})
    if list(fields) != list(cls.__dict__.get("__annotations__", {})):  # noqa: RUF063 - as dataclasses reads them
        return False
    if any(field._field_type is not dataclasses._FIELD for field in fields.values()):
        return False
    expected = ["__init__", "__repr__", "__eq__"] + (["__setattr__", "__delattr__", "__hash__"] if frozen else [])
    functions = _functions(dataclasses, cls, fields, codes, {})
    return functions is not None and [function.__name__ for function in functions] == expected


def _create_fn_code(code):
    """The code of the __create_fn__ that a method's source defines (and that makes the method)."""
    found = [const for const in getattr(code, "co_consts", ()) if getattr(const, "co_name", None) == "__create_fn__"]
    return found[0] if len(found) == 1 else None


def _functions(dataclasses, cls, fields, codes, namespace):
    """The functions the recorded __create_fn__ codes make for `cls`, given the values dataclasses
    passes them (by the names it gives them: _type_NAME, _dflt_NAME...); None if a code asks for
    another."""
    missing = dataclasses.MISSING
    values = {"MISSING": missing, "_HAS_DEFAULT_FACTORY": dataclasses._HAS_DEFAULT_FACTORY,
              "__dataclass_builtins_object__": object, "_return_type": None, "cls": cls,
              "FrozenInstanceError": dataclasses.FrozenInstanceError}
    for name, field in fields.items():
        values["_type_" + name] = field.type
        values["_dflt_" + name] = field.default if field.default_factory is missing else field.default_factory
    made = []
    try:
        for code in codes:
            arguments = {name: values[name] for name in code.co_varnames[:code.co_argcount]}
            made.append(FunctionType(code, namespace)(**arguments))
    except KeyError:
        return None
    return made


def _replay(dataclasses, cls, params, module, codes):
    """Do to `cls` what dataclasses._process_class does, from its recorded codes; False if they
    do not fit (nothing is changed then)."""
    init, repr_, eq, order, unsafe_hash, frozen = params[:6]
    field_type, missing = dataclasses.Field, dataclasses.MISSING
    fields = {}
    for name, text in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - as dataclasses reads them
        default = getattr(cls, name, missing)
        field = default if isinstance(default, field_type) else field_type(default, missing, True, True, None, True,
                                                                             None, missing)
        field.name, field.type, field._field_type = name, text, dataclasses._FIELD
        if field.kw_only is missing:
            field.kw_only = False
        fields[name] = field
    namespace = sys.modules[module].__dict__ if module else {}
    functions = _functions(dataclasses, cls, fields, codes, namespace)
    if functions is None:
        return False
    cls.__dataclass_params__ = dataclasses._DataclassParams(init, repr_, eq, order, unsafe_hash, frozen)
    for field in fields.values():
        if isinstance(getattr(cls, field.name, None), field_type):
            if field.default is missing:
                delattr(cls, field.name)
            else:
                setattr(cls, field.name, field.default)
    cls.__dataclass_fields__ = fields
    for function in functions:
        name = function.__name__
        if name == "__repr__":
            function = dataclasses._recursive_repr(function)
        function.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, function)
    if not frozen:
        cls.__hash__ = None  # eq without frozen: unhashable, as dataclasses makes it
    cls.__match_args__ = tuple(field.name for field in fields.values() if field.init and not field.kw_only)
    dataclasses.abc.update_abstractmethods(cls)
    return True


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
    """Route dataclasses' exec and class processing through the cache (once per process); returns it."""
    global _installed
    if _installed is None:
        from kubeplay.lean_imports import import_dataclasses

        dataclasses = import_dataclasses()
        cache = _installed = _Cache(directory)
        process_class = dataclasses._process_class

        def process_class_from_cache(cls, *params):
            return cache.process_class(process_class, cls, *params)

        dataclasses.exec = cache.exec  # a module global shadows the builtin for its one caller
        dataclasses._process_class = process_class_from_cache  # dataclass() looks it up on each call
        atexit.register(cache.save)
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

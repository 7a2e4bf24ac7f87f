"""Dataclass <-> JSON-able dict, so plans can be stored as config and read back unchanged."""

from __future__ import annotations

import dataclasses
import re
import sys
import types
from collections.abc import Callable, Container
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """A dataclass tree as JSON-able dicts, lists and scalars (tuples become lists, bytes base64)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, bytes):
        from binascii import b2a_base64  # here: most plans hold no bytes

        return b2a_base64(obj, newline=False).decode("ascii")
    if isinstance(obj, (list, tuple)):
        return [to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_dict(value) for key, value in obj.items()}
    return obj


def from_dict(cls: type[T], data: Any) -> T:
    """The inverse of to_dict for a dataclass type; unknown keys are ignored (older plans)."""
    return None if data is None else _converter(cls)(data)  # type: ignore[return-value]


# Reading plans back is on every pod verb's path (and a listing of many pods): the walk over a
# type's hints is done once per type, into a converter function, instead of once per value.

def _identity(value: Any) -> Any:
    return value


def _decode_bytes(value: Any) -> Any:
    from binascii import a2b_base64  # here: most plans hold no bytes

    return a2b_base64(value) if isinstance(value, str) else value


@cache
def _converter(tp: Any) -> Callable[[Any], Any]:
    """A function that turns to_dict's output for type tp (never None) back into a tp."""
    origin = getattr(tp, "__origin__", None)
    if isinstance(tp, types.UnionType) or getattr(origin, "_name", None) == "Union":  # X | Y, or typing's Optional[X]
        options = [arg for arg in tp.__args__ if arg is not type(None)]
        return _converter(options[0]) if len(options) == 1 else _identity  # a real union stays as read
    if origin is tuple:
        args = tp.__args__
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])
            return tuple if item is _identity else (lambda value: tuple(_or_none(item, v) for v in value))
        items = [_converter(arg) for arg in args]
        return lambda value: tuple(_or_none(c, v) for c, v in zip(items, value))
    if origin is dict:
        item = _converter(tp.__args__[1])
        return dict if item is _identity else (lambda value: {k: _or_none(item, v) for k, v in value.items()})
    if tp is bytes:
        return _decode_bytes
    if dataclasses.is_dataclass(tp):
        return _dataclass_converter(tp)
    return _identity


def _or_none(convert: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else convert(value)


def _dataclass_converter(cls: type) -> Callable[[Any], Any]:
    fields: dict[str, Callable[[Any], Any]] | None = None  # filled on first use: a type may refer to itself

    def convert(value: Any) -> Any:
        nonlocal fields
        if fields is None:
            fields = _field_converters(cls)
        known = fields
        return cls(**{k: (None if v is None else known[k](v)) for k, v in value.items() if k in known})

    return convert


# Names of annotations whose values JSON gives back as they were stored (str, int | None, dict[str, str]).
_PLAIN_WORDS = frozenset(("str", "int", "float", "bool", "dict", "list", "None"))


def _field_converters(cls: type) -> dict[str, Callable[[Any], Any]]:
    """A converter for each init field. Plain annotations need none and are not evaluated: they
    are most of a plan's, and reading a pod should not evaluate what it does not convert."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    plain = {f.name for f in fields if isinstance(f.type, str) and set(re.findall(r"\w+", f.type)) <= _PLAIN_WORDS}
    hints = _field_types(cls, skip=plain)
    return {f.name: _identity if f.name in plain else _converter(hints[f.name]) for f in fields}


def _field_types(cls: type, skip: Container[str] = ()) -> dict[str, Any]:
    """The class's annotations evaluated, as typing.get_type_hints gives them for the dataclasses
    stored here (whose annotations are strings under `from __future__ import annotations`), but
    for the names in `skip`."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        namespace = vars(module) if module is not None else {}
        class_names = dict(vars(klass))
        # the class's own annotations, not inherited ones (the base classes are walked in this loop)
        for name, annotation in klass.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
            if name not in skip:
                hints[name] = eval(annotation, namespace, class_names) if isinstance(annotation, str) else annotation
    return hints

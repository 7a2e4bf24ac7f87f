"""Models to JSON and back, through pydantic: plans stored as config, records, `--format json` output.

The models are frozen standard dataclasses; pydantic validates and dumps them with a TypeAdapter per
type. An adapter is built on first use and kept for the process: building one costs more than the
conversions it then makes, and the listings, which read a few columns, build none.
Reading keeps the old rule: keys a model does not know are ignored (a plan stored by an older
kubeplay), missing ones take their defaults.

Writing a plan needs no validation, and play writes one for every pod and container it makes:
plain_json writes the same JSON with the standard library, so making pods does not load pydantic.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import TypeAdapter

T = TypeVar("T")


class InvalidData(ValueError):
    """Stored or received data that does not fit its model; the message names the first bad field."""


@cache
def adapter(tp: Any) -> TypeAdapter:
    """The TypeAdapter of a model type (or of a container of them, such as tuple[X, ...])."""
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


def to_jsonable(obj: Any, tp: Any = None) -> Any:
    """`obj` as JSON-able dicts, lists and scalars: tuples become lists, enums their values, bytes
    base64 text. `tp` is its type when that is not type(obj) (a list of models, say)."""
    return adapter(tp or type(obj)).dump_python(obj, mode="json")


def to_json(obj: Any, tp: Any = None) -> str:
    """`obj` as compact JSON text (what to_jsonable gives, serialised)."""
    return adapter(tp or type(obj)).dump_json(obj).decode()


def plain_json(obj: Any) -> str:
    """What to_json writes for a model instance, written by the standard library: the same keys in
    the same order, tuples as lists, bytes as URL-safe base64 (VolumeFile.content, as pydantic is
    configured there). A value the standard library would write otherwise (a float JSON cannot
    hold, which pydantic writes as null) or not at all is left to to_json."""
    import dataclasses
    import json

    try:
        return json.dumps(dataclasses.asdict(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=_base64_text)
    except (TypeError, ValueError):
        return to_json(obj)


def _base64_text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise TypeError(f"{type(value).__name__} is not a model field type plain_json writes")
    import base64

    return base64.urlsafe_b64encode(value).decode()


def from_jsonable(tp: type[T], data: Any) -> T:
    """A `tp` from what to_jsonable (or json.loads of to_json) gave; InvalidData if it does not fit."""
    from pydantic import ValidationError

    try:
        return adapter(tp).validate_python(data)
    except ValidationError as exc:
        raise InvalidData(first_problem(exc)) from exc


def from_json(tp: type[T], text: str | bytes) -> T:
    """A `tp` from JSON text that to_json wrote; InvalidData if it is no JSON or does not fit."""
    from pydantic import ValidationError

    try:
        return adapter(tp).validate_json(text)
    except ValidationError as exc:
        raise InvalidData(first_problem(exc)) from exc


def first_problem(exc: Any) -> str:
    """One line for a pydantic ValidationError: where its first error is, and what it is."""
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "the top level"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"

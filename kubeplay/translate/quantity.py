"""Kubernetes resource quantities ("250m", "0.5", "64Mi", "1G", "129e6") as exact decimals.

Kubernetes rounds up when it turns a quantity into an integer (MilliValue, Value); so do we, so
"1.5m" of CPU is 2 millicores and "0.5Ki" of memory is 512 bytes.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal

BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)

EXPECTED = 'a quantity such as "250m", "0.5", "64Mi" or "1G"'


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """The exact value of a quantity given as text or as a YAML number."""
    from decimal import Decimal, InvalidOperation  # here: most pods ask for no resources

    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"expected {EXPECTED}, got {value!r}")
    text = str(value).strip() if not isinstance(value, float) else repr(value)
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise QuantityError(f'expected {EXPECTED}, got "{value}"')
    try:
        number = Decimal(match.group("number"))
        if match.group("exponent"):
            return number * Decimal(10) ** int(match.group("exponent")[1:])
    except (InvalidOperation, ValueError) as exc:
        raise QuantityError(f'"{value}" is not a number Kubernetes accepts') from exc
    suffix = match.group("suffix") or ""
    if suffix in BINARY_SUFFIXES:
        return number * BINARY_SUFFIXES[suffix]
    return number * Decimal(10) ** DECIMAL_EXPONENTS[suffix]


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True


def to_millis(value: object) -> int:
    """CPU as millicores: "250m" -> 250, "0.5" -> 500, 2 -> 2000."""
    return math.ceil(parse_quantity(value) * 1000)


def to_units(value: object) -> int:
    """A quantity as a whole number (bytes for memory): "64Mi" -> 67108864, "129e6" -> 129000000."""
    return math.ceil(parse_quantity(value))

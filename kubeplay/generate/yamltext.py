"""Generated documents as block-style YAML, without PyYAML (whose import is ~15 ms of a generate).

The documents are plain dicts, lists, strings, numbers, booleans and None, so the emitter is small;
what needs care is the strings. A string is written plain only when every YAML reader gives it
back as the same string: not a word that YAML 1.1 reads as a boolean or null (go-yaml, behind
kubectl, still reads `yes`, `on`, `y`), nothing that may read as a number or a date, no indicator
where it means something, only printable characters. Text of several lines is a literal block
where one can hold it exactly; every other string is double-quoted with escapes, which holds any
text. Lines are never folded.
"""

from __future__ import annotations

_WORDS_READ_AS_OTHER = frozenset(("y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"))  # any case
_FIRST_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")
_NUMBER_STARTS = frozenset("0123456789+.")
_INFINITY = float("inf")
_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
            "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L",
            "\u2029": "\\P"}


def dump_documents(documents: list) -> str:
    """The documents one after another, `---` opening each but the first."""
    return "---\n".join(_block(document, 0) for document in documents)


def _printable(char: str) -> bool:
    """YAML's printable set, less the characters a reader takes as line breaks or a byte order mark."""
    return ("\x20" <= char <= "\x7e" or "\xa0" <= char <= "\ud7ff" or "\ue000" <= char <= "\ufffd"
            and char != "\ufeff" or char >= "\U00010000") and char not in "\x85\u2028\u2029"


def _plain_allowed(text: str) -> bool:
    if not text or text != text.strip(" ") or text.lower() in _WORDS_READ_AS_OTHER or text in ("<<", "="):
        return False
    first = text[0]
    if first in _NUMBER_STARTS or (first == "-" and (len(text) == 1 or text[1] in "0123456789. ")):
        return False  # may read as a number (or a sequence entry); a leading "-x" stays plain
    if first in _FIRST_INDICATORS and not (first == "-" and len(text) > 1):
        return False
    if ": " in text or " #" in text or text.endswith(":") or text.startswith(("---", "...")):
        return False
    return all(_printable(char) for char in text)


def _literal_allowed(text: str) -> bool:
    """A literal block keeps every character as written, so only text it can hold exactly: line
    breaks as plain \\n, no line ending in blanks, a first line that sets the indentation."""
    if text[0] in " \n" or text.rstrip("\n") == "":
        return False
    lines = text.rstrip("\n").split("\n")
    return all(not line.endswith(" ") and all(_printable(char) for char in line) for line in lines)


def _double_quoted(text: str) -> str:
    pieces = []
    for char in text:
        if char in _ESCAPES:
            pieces.append(_ESCAPES[char])
        elif _printable(char):
            pieces.append(char)
        elif char <= "\xff":
            pieces.append(f"\\x{ord(char):02x}")
        elif char <= "\uffff":
            pieces.append(f"\\u{ord(char):04x}")
        else:
            pieces.append(f"\\U{ord(char):08x}")
    return '"' + "".join(pieces) + '"'


def _literal(text: str, indent: int) -> str:
    body = text.rstrip("\n")
    ending = len(text) - len(body)
    chomping = "-" if ending == 0 else ("" if ending == 1 else "+")
    pad = " " * indent
    lines = [f"{pad}{line}" if line else "" for line in body.split("\n")]
    return f"|{chomping}\n" + "\n".join(lines) + "\n" * max(ending - 1, 0)  # the caller ends the line


def _scalar(value: object, indent: int | None = None) -> str:
    """A scalar's text; with an indent (a value, not a key), text of several lines may be a block."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write a {type(value).__name__} as YAML")
    if _plain_allowed(value):
        return value
    if indent is not None and "\n" in value and _literal_allowed(value):
        return _literal(value, indent)
    return _double_quoted(value)


def _float(value: float) -> str:
    if value != value:  # noqa: PLR0124 - NaN; math.isnan would load the math extension (~0.3 ms) for this alone
        return ".nan"
    if value in (_INFINITY, -_INFINITY):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)  # 1e+20 reads as a string in YAML 1.1; 1.0e+20 as a float
    return text


def _block(value: object, indent: int) -> str:
    """A collection at `indent`, every line ended; a scalar as a line of its own."""
    if isinstance(value, dict):
        return _mapping(value, indent) if value else " " * indent + "{}\n"
    if isinstance(value, list | tuple):
        return _sequence(value, indent) if value else " " * indent + "[]\n"
    return " " * indent + _scalar(value, indent) + "\n"


def _mapping(mapping: dict, indent: int) -> str:
    pad = " " * indent
    out = []
    for key, value in mapping.items():
        head = f"{pad}{_scalar(key)}:"
        if isinstance(value, dict | list | tuple) and value:
            # as PyYAML writes them: a sequence under a key is not indented further, a mapping is
            out.append(f"{head}\n" + _block(value, indent if isinstance(value, list | tuple) else indent + 2))
        else:
            out.append(f"{head} {_inline(value, indent + 2)}\n")
    return "".join(out)


def _sequence(items: list | tuple, indent: int) -> str:
    pad = " " * indent
    out = []
    for item in items:
        if isinstance(item, dict | list | tuple) and item:
            nested = _block(item, indent + 2)
            out.append(f"{pad}- " + nested[indent + 2:])  # the first line moves up beside the dash
        else:
            out.append(f"{pad}- {_inline(item, indent + 2)}\n")
    return "".join(out)


def _inline(value: object, indent: int) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _scalar(value, indent)

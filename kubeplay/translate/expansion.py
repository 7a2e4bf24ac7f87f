"""`$(VAR)` references in env values, command and args, expanded the way Kubernetes does.

`$$` is an escaped `$`; `$(NAME)` becomes the value of NAME when known and stays as written when
not; an unclosed `$(` and a `$` before any other character are kept literally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def expand(text: str, lookup: Mapping[str, str] | Callable[[str], str | None]) -> str:
    find = lookup.get if isinstance(lookup, Mapping) else lookup
    out: list[str] = []
    start = 0  # first character not yet copied
    cursor = 0
    while cursor < len(text):
        if text[cursor] != "$" or cursor + 1 >= len(text):
            cursor += 1
            continue
        out.append(text[start:cursor])
        following = text[cursor + 1]
        if following == "$":
            out.append("$")
            cursor += 2
        elif following == "(":
            closing = text.find(")", cursor + 2)
            if closing == -1:
                # not a reference after all: keep "$(" and read on after it
                out.append("$(")
                cursor += 2
            else:
                name = text[cursor + 2:closing]
                value = find(name)
                out.append(value if value is not None else f"$({name})")
                cursor = closing + 1
        else:
            out.append("$" + following)
            cursor += 2
        start = cursor
    out.append(text[start:])
    return "".join(out)

"""Text rules generation shares: `$(VAR)` escaping and the Kubernetes default pull policy."""

from __future__ import annotations

from collections.abc import Container


def escape_references(text: str, known: Container[str]) -> str:
    """Text that Kubernetes' `$(VAR)` expansion turns back into exactly `text`.

    Plans hold expanded values, so a `$` that expansion would read (before `$`, or starting a
    `$(NAME)` whose NAME is a variable of the container) is doubled; any other `$` stays as it is.
    """
    out: list[str] = []
    for index, char in enumerate(text):
        if char == "$" and index + 1 < len(text):
            following = text[index + 1]
            if following == "$":
                out.append("$$")
                continue
            if following == "(":
                closing = text.find(")", index + 2)
                if closing != -1 and text[index + 2:closing] in known:
                    out.append("$$")
                    continue
        out.append(char)
    return "".join(out)


def default_pull_policy(image: str) -> str:
    """What Kubernetes (and translation) assume when imagePullPolicy is left out."""
    if "@" in image:
        return "IfNotPresent"
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"

"""Names that become paths or host objects: checked by Kubernetes' rules, joined to a store safely.

`name_problem(name, rule)` says why a name breaks one of the API server's rules, or "" when it
keeps it: a DNS-1123 label (at most 63 characters: pods' containers, volumes, namespaces), a
DNS-1123 subdomain (at most 253: pods, ConfigMaps, Secrets, claims, workloads), a DNS-1035 label
(Services). Translation checks every such name of a manifest with it, naming file:line.

`store_child(directory, name, what)` is the one way a name is joined to a directory kubeplay owns.
It refuses whatever would land outside that directory or is no single file name at all (a "/",
"." or "..", NUL or another control character, an empty or overlong name), wherever the name came
from: a manifest, a command line, a stored record. So a name that slipped past every other check
still cannot reach outside the store.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kubeplay.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

LABEL = "label"
SUBDOMAIN = "subdomain"
DNS1035 = "dns1035"

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

# rule -> (pattern, longest, what a valid name looks like)
RULES = {
    LABEL: (DNS1123_LABEL, 63, 'a valid DNS-1123 label (lower case letters, digits and "-", '
                               "starting and ending with a letter or digit)"),
    SUBDOMAIN: (DNS1123_SUBDOMAIN, 253, 'a valid DNS-1123 subdomain (lower case letters, digits, "-" and ".", '
                                        "starting and ending with a letter or digit)"),
    DNS1035: (DNS1035_LABEL, 63, 'a valid DNS-1035 label (lower case letters, digits and "-", '
                                 "starting with a letter and ending with a letter or digit)"),
}

NAME_MAX = 255  # bytes in one file name (Linux)
_UNSAFE_IN_FILE_NAME = re.compile(r"[/\x00-\x1f\x7f]")
SHOWN_MAX = 70  # characters of a hostile name worth repeating in a message


def shown(name: object) -> str:
    """A name as a message repeats it: quoted, control characters escaped, a long one cut short."""
    text = str(name)
    if len(text) > SHOWN_MAX:
        text = text[:SHOWN_MAX] + "..."
    if text.isprintable():
        return f'"{text}"'
    return repr(text)


def name_problem(name: object, rule: str) -> str:
    """Why `name` is not a valid name under `rule` (LABEL, SUBDOMAIN, DNS1035); "" when it is."""
    if not isinstance(name, str):
        return f"expected a string, got {type(name).__name__}"
    if not name:
        return "must not be empty"
    pattern, longest, valid = RULES[rule]
    if len(name) > longest:
        return f"{shown(name)} is longer than {longest} characters"
    if not pattern.fullmatch(name):
        return f"{shown(name)} is not {valid}"
    return ""


def file_name_problem(name: object) -> str:
    """Why `name` cannot be one file name inside a directory; "" when it can."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if name in (".", ".."):
        return f'is "{name}"'
    if _UNSAFE_IN_FILE_NAME.search(name):
        return 'holds "/" or a control character'
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        return f"is longer than {NAME_MAX} bytes"
    return ""


def store_child(directory: Path, name: str, what: str) -> Path:
    """directory/name, for a `name` that is exactly one entry of `directory`; else a UserError
    naming `what` ("volume", "pod lock") and why."""
    problem = file_name_problem(name)
    if problem:
        raise UserError(f"{what} name {shown(name)} {problem}: it cannot name a path under {directory}",
                        hint="use a Kubernetes name: lower case letters, digits, '-' and '.'")
    return directory / name


DEFAULT_NAMESPACE = "default"
POD_KEY_SEPARATOR = "_"


def pod_key(namespace: str, name: str) -> str:
    """The key a pod is stored, locked and wired up under (its store row, its leases, events, locks
    and hostPort chain): its name in namespace default, so stores and output from before namespaces
    stay as they were; NAMESPACE_NAME in any other. A namespace is a DNS-1123 label and a pod's name a
    DNS-1123 subdomain: neither can hold "_", so no two (namespace, name) pairs share a key."""
    if not namespace or namespace == DEFAULT_NAMESPACE:
        return name
    return f"{namespace}{POD_KEY_SEPARATOR}{name}"


def split_pod_key(key: str) -> tuple[str, str]:
    """(namespace, name) of a pod's key, as pod_key made it."""
    namespace, separator, name = key.partition(POD_KEY_SEPARATOR)
    return (namespace, name) if separator else (DEFAULT_NAMESPACE, key)


def pod_arguments(namespace: str, name: str) -> str:
    """The pod as a command line names it, for hints: `web`, or `-n team web` outside default."""
    return name if not namespace or namespace == DEFAULT_NAMESPACE else f"-n {namespace} {name}"


def pod_label(key: str) -> str:
    """A pod's key as messages show it: `web`, or `team/web` outside namespace default."""
    namespace, name = split_pod_key(key)
    return name if namespace == DEFAULT_NAMESPACE else f"{namespace}/{name}"


def given_pod_key(namespace: str, name: str) -> str | None:
    """The key of the pod a user names as `name` in `namespace`; None when `name` holds the keys'
    separator, which no pod's name can: so no key of another namespace is reached by spelling it."""
    return None if POD_KEY_SEPARATOR in name else pod_key(namespace, name)

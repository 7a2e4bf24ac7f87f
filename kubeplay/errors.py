"""The error tree. Every error a user can meet is a KubeplayError with a message and a hint.

    KubeplayError (exit 125: the engine failed)
    ├── UserError (exit 1: the input or the request is wrong; the user can fix it)
    │   ├── ManifestError        a manifest is malformed or invalid
    │   ├── ReferenceFormatError an image reference does not parse
    │   ├── NotFoundError        an image, pod, container, network or volume is unknown
    │   ├── ConflictError        a name or port is taken, an object is in use
    │   └── AuthError            a registry refused the credentials
    └── EngineError (exit 125: something below kubeplay failed)
        ├── RegistryError        a registry misbehaved or could not be reached
        ├── ContentError         content did not match its digest, an archive is broken
        ├── RuntimeFailure       runc/crun/conmon failed; stderr classified
        ├── HostError            the host lacks something kubeplay needs
        └── StoreError           the state database failed
            └── StoreCorrupted   its file is damaged or is no database at all

Lower layers translate library exceptions into these with ``raise ... from exc``; the CLI is the only
place that catches them.
"""

from __future__ import annotations


class KubeplayError(Exception):
    exit_code = 125

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UserError(KubeplayError):
    exit_code = 1


class ManifestError(UserError):
    pass


class ReferenceFormatError(UserError):
    pass


class NotFoundError(UserError):
    pass


class ConflictError(UserError):
    pass


class AuthError(UserError):
    pass


class EngineError(KubeplayError):
    exit_code = 125


class RegistryError(EngineError):
    pass


class ContentError(EngineError):
    pass


class RuntimeFailure(EngineError):
    pass


class HostError(EngineError):
    pass


class StoreError(EngineError):
    pass


class StoreCorrupted(StoreError):
    pass


NO_SPACE_ERRNOS = (28, 122)  # ENOSPC, EDQUOT: the same on every Linux architecture


def space_error(exc: BaseException, path: object) -> HostError | None:
    """A full disk or an exhausted quota (ENOSPC, EDQUOT) as the HostError it is, naming `path`;
    None for any other error."""
    if not isinstance(exc, OSError) or exc.errno not in NO_SPACE_ERRNOS:
        return None
    what = "no space left on device" if exc.errno == NO_SPACE_ERRNOS[0] else "disk quota exceeded"
    return HostError(f"{what}: {path}", hint=f"free space on the filesystem of {path} "
                                              "(`kubeplay image prune`, `kubeplay system reset`) and retry")

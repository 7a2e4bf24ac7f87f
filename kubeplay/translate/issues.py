"""Collecting problems found in manifests, so one run reports all of them together.

Errors always stop the run; "lenient" problems (unknown fields, unsupported kinds, ignored fields)
are warnings unless strict, then errors. Nothing is created while any error stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeplay.errors import ManifestError


def located(file: str, line: int, path: str, message: str) -> str:
    """`app.yaml:14: spec.containers[1].image: message`, leaving out what is unknown; a line a
    patch file gave (positions.SourceLine) names the patch file."""
    file = getattr(line, "file", file)
    where = f"{file}:{line}" if line else file
    return f"{where}: {path}: {message}" if path else f"{where}: {message}"


@dataclass
class Issues:
    """The errors and warnings found while translating."""

    strict: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, file: str, line: int, path: str, message: str) -> None:
        self.errors.append(located(file, line, path, message))

    def lenient(self, file: str, line: int, path: str, message: str) -> None:
        """A problem Kubernetes would tolerate or kubeplay can skip: an error only when strict."""
        text = located(file, line, path, message)
        (self.errors if self.strict else self.warnings).append(text)

    def warn(self, file: str, line: int, path: str, message: str) -> None:
        self.warnings.append(located(file, line, path, message))

    def raise_errors(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            message = self.errors[0]
        else:
            listing = "\n".join(f"  {error}" for error in self.errors)
            message = f"{len(self.errors)} problems in the manifests:\n{listing}"
        hint = "fix the fields named above; nothing was created"
        if self.strict:
            hint += " (--strict turns unknown fields, ignored fields and unsupported kinds into errors)"
        raise ManifestError(message, hint=hint)

"""Manifests to PodPlans: pure, no I/O beyond reading the given files.

    documents = load(["app.yaml"])                 # positioned documents, file:line kept
    result = translate(documents, TranslateOptions(strict=False))
    result.pods, result.claims, result.configmaps, result.secrets, result.services, result.warnings

Problems raise one ManifestError listing every `file:line: field.path: reason` of the run.
Nothing here imports the `kubernetes` package; fields are checked against kubeplay/data/k8s-schema.json.

The names above are imported from their modules (loader, run, context) on first use, not with the
package: `down` reads manifests with the loader and kubeplay.translate.targets alone, and needs
none of the translation.
"""

import importlib

_HOMES = {
    "ClaimPlan": "context", "TranslateOptions": "context", "TranslateResult": "context",
    "Document": "loader", "load": "loader", "parse": "loader",
    "translate": "run",
}

__all__ = ["ClaimPlan", "Document", "TranslateOptions", "TranslateResult", "load", "parse", "translate"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)

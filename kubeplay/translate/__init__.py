"""Manifests to PodPlans: pure, no I/O beyond reading the given files.

    documents = load(["app.yaml"])                 # positioned documents, file:line kept
    result = translate(documents, TranslateOptions(strict=False))
    result.pods, result.claims, result.configmaps, result.secrets, result.services, result.warnings

Problems raise one ManifestError listing every `file:line: field.path: reason` of the run.
Nothing here imports the `kubernetes` package; fields are checked against kubeplay/data/k8s-schema.json.
"""

from kubeplay.translate.context import ClaimPlan, TranslateOptions, TranslateResult
from kubeplay.translate.loader import Document, load, parse
from kubeplay.translate.run import translate

__all__ = ["ClaimPlan", "Document", "TranslateOptions", "TranslateResult", "load", "parse", "translate"]

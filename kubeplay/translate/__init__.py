"""Manifests to PodPlans: pure, no I/O beyond reading the given files.

    from kubeplay.translate.loader import load
    from kubeplay.translate.context import TranslateOptions
    from kubeplay.translate.run import translate

    documents = load(["app.yaml"])                 # positioned documents, file:line kept
    result = translate(documents, TranslateOptions(strict=False))
    result.pods, result.claims, result.configmaps, result.secrets, result.services, result.warnings

Problems raise one ManifestError listing every `file:line: field.path: reason` of the run.
Nothing here imports the `kubernetes` package; fields are checked against kubeplay/data/k8s-schema.json.

The package itself imports nothing: `down` reads manifests with the loader and
kubeplay.translate.targets alone, and needs none of the translation.
"""

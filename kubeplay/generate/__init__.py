"""Stored pods back to Kubernetes YAML that plays back to the same pods.

    result = generate(plans, GenerateOptions(kind="Deployment"), image_config=lookup)
    result.yaml, result.documents, result.warnings

Pure: it reads the stored PodPlans (never a container's config.json) and, through `image_config`,
the image configs, so fields an image sets anyway are left out. The `kubernetes` models check
every document; they are imported only when generating.
"""

from kubeplay.generate.build import Generated, GenerateOptions, generate

__all__ = ["GenerateOptions", "Generated", "generate"]

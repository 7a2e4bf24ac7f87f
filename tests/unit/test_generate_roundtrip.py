"""Every valid manifest of the corpus: translate -> generate -> translate gives the same plans, the
YAML is the same bytes every time, and each document fits the Kubernetes schema."""

from __future__ import annotations

import pytest
import yaml

from kubeplay.generate import GenerateOptions, generate
from tests.unit.generate_support import (
    CORPUS,
    comparable_all,
    translate_files,
    translate_text,
    validate_document,
)

OPTIONS = GenerateOptions(include_secrets=True, local_node="node-a")


@pytest.mark.parametrize("manifest", CORPUS, ids=lambda p: p.name)
def test_generated_yaml_plays_back_to_the_same_plans(manifest):
    first = translate_files([manifest])
    assert first.pods, "the corpus file makes pods"
    text = generate(first.pods, OPTIONS).yaml
    again = translate_text(text)
    assert comparable_all(again.pods) == comparable_all(first.pods)
    assert generate(again.pods, OPTIONS).yaml == text


@pytest.mark.parametrize("manifest", CORPUS, ids=lambda p: p.name)
def test_generating_twice_gives_identical_bytes(manifest):
    pods = translate_files([manifest]).pods
    assert generate(pods, OPTIONS).yaml == generate(pods, OPTIONS).yaml


@pytest.mark.parametrize("manifest", CORPUS, ids=lambda p: p.name)
def test_generated_documents_fit_the_kubernetes_schema(manifest):
    pods = translate_files([manifest]).pods
    for options in (OPTIONS, GenerateOptions(service=True, local_node="node-a")):
        for document in yaml.safe_load_all(generate(pods, options).yaml):
            validate_document(document)


@pytest.mark.parametrize("manifest", CORPUS, ids=lambda p: p.name)
def test_generated_yaml_translates_strictly_when_the_original_does(manifest):
    first = translate_files([manifest])
    replay = translate_text(generate(first.pods, OPTIONS).yaml)
    assert len(replay.warnings) <= len(first.warnings), replay.warnings


def test_the_whole_corpus_at_once_collapses_replicas_into_their_workloads():
    from tests.unit.generate_support import REPO

    files = [REPO / "manifests/examples/web-with-config.yaml"]
    pods = translate_files(files).pods
    assert len(pods) == 2
    documents = list(yaml.safe_load_all(generate(pods, OPTIONS).yaml))
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    assert len(deployments) == 1
    assert deployments[0]["spec"]["replicas"] == 2
    assert "pod-template-hash" not in deployments[0]["spec"]["template"]["metadata"]["labels"]

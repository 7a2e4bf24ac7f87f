"""The reference grammar, docker.io normalisation and short-name candidates."""

from __future__ import annotations

import pytest

from kubeplay.errors import ReferenceFormatError
from kubeplay.images.reference import candidates, is_short_name, parse_reference
from kubeplay.images.registries import RegistriesConf

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, expected", [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
    ("registry-1.docker.io/foo/bar", "docker.io/foo/bar:latest"),
    ("user/app:v1.2-rc_3", "docker.io/user/app:v1.2-rc_3"),
    ("quay.io/org/team/app:2", "quay.io/org/team/app:2"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/a/b/c:tag", "localhost:5000/a/b/c:tag"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
    ("[::1]:5000/app:x", "[::1]:5000/app:x"),
    ("Registry.Example.COM/app", "Registry.Example.COM/app:latest"),
    ("my-host.example/a__b/c.d/e-f--g", "my-host.example/a__b/c.d/e-f--g:latest"),
    (f"busybox@{D}", f"docker.io/library/busybox@{D}"),
    (f"quay.io/a/b:1@{D}", f"quay.io/a/b:1@{D}"),
    ("app:" + "t" * 128, "docker.io/library/app:" + "t" * 128),
])
def test_good_references(text: str, expected: str) -> None:
    assert str(parse_reference(text)) == expected


def test_parts() -> None:
    ref = parse_reference(f"localhost:5000/team/app:1@{D}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("localhost:5000", "team/app", "1", D)


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("Busybox", "lowercase"),
    ("docker.io/Library/busybox", "lowercase"),
    ("busybox:", "tag"),
    ("busybox:-bad", "tag"),
    ("busybox:" + "t" * 129, "tag"),
    ("busybox@sha256:abc", "ALGORITHM:HEX"),
    ("busybox@sha256:" + "a" * 40, "64 hex digits"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("busybox@" + D[:-1] + "Z", "ALGORITHM:HEX"),
    ("a//b", "path component"),
    ("a/b/", "path component"),
    ("-leading/x", "path component"),
    ("a..b", "path component"),
    ("a___b", "path component"),
    ("https://quay.io/a", "scheme"),
    ("bad host!/x", "white space"),
    ("host_name.io/x", "registry"),
    ("quay.io:port/x", "registry"),
    ("quay.io/", "empty"),
    ("a/" + "b" * 260, "255"),
])
def test_bad_references(text: str, reason: str) -> None:
    with pytest.raises(ReferenceFormatError) as caught:
        parse_reference(text)
    assert reason in caught.value.message
    if text:
        assert repr(text) in caught.value.message, "the message names the reference"
    assert caught.value.hint


@pytest.mark.parametrize("text, short", [
    ("busybox", True), ("library/busybox:1", True), ("docker.io/busybox", False),
    ("localhost/x", False), ("host:5000/x", False), ("Upper/x", False),
])
def test_is_short_name(text: str, short: bool) -> None:
    assert is_short_name(text) is short


def test_candidates_follow_search_registries() -> None:
    conf = RegistriesConf(unqualified_search_registries=["quay.io", "docker.io", "localhost:5000"])
    assert [str(ref) for ref in candidates("team/app:2", conf)] == [
        "quay.io/team/app:2", "docker.io/team/app:2", "localhost:5000/team/app:2"]
    assert [str(ref) for ref in candidates("busybox", conf)][1] == "docker.io/library/busybox:latest"


def test_candidates_of_a_qualified_name_are_itself() -> None:
    conf = RegistriesConf(unqualified_search_registries=["quay.io"])
    assert [str(ref) for ref in candidates("localhost/app", conf)] == ["localhost/app:latest"]


def test_candidates_use_aliases_keeping_the_users_tag() -> None:
    conf = RegistriesConf(unqualified_search_registries=["quay.io"],
                          aliases={"fedora": "registry.fedoraproject.org/fedora"})
    assert [str(ref) for ref in candidates("fedora:40", conf)] == ["registry.fedoraproject.org/fedora:40"]
    assert [str(ref) for ref in candidates("fedora", conf)] == ["registry.fedoraproject.org/fedora:latest"]


def test_candidates_without_search_registries_fall_back_to_docker_hub() -> None:
    assert [str(ref) for ref in candidates("busybox", RegistriesConf())] == ["docker.io/library/busybox:latest"]


def test_candidates_reject_malformed_names() -> None:
    with pytest.raises(ReferenceFormatError):
        candidates("Bad", RegistriesConf(unqualified_search_registries=["quay.io"]))

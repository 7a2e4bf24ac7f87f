"""registries.conf: parsing, drop-in merging, mirrors, prefixes and the files podman would read."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import UserError
from kubeplay.images.reference import parse_reference
from kubeplay.images.registries import Endpoint, RegistriesConf, standard_paths

MAIN = """
unqualified-search-registries = ["quay.io", "docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "mirror.local:5000"
insecure = true

[[registry.mirror]]
location = "mirror2.local/hub"

[[registry]]
location = "internal.example:5000"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "internal.example/teams/one"

[[registry]]
prefix = "example.com"
location = "other.example"

[[registry]]
location = "evil.example"
blocked = true

[[registry]]
prefix = "*.wild.example"
insecure = true

[aliases]
"tool" = "quay.io/tools/tool"
"""


def conf_from(tmp_path: Path, *texts: str) -> RegistriesConf:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"{index}.conf"
        path.write_text(text)
        paths.append(path)
    return RegistriesConf.from_files(paths)


def test_search_registries_and_aliases(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    assert conf.unqualified_search_registries == ["quay.io", "docker.io"]
    assert conf.aliases == {"tool": "quay.io/tools/tool"}


def test_mirrors_come_first_then_the_location(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    assert conf.endpoints(parse_reference("busybox")) == [
        Endpoint("mirror.local:5000", True, "library/busybox"),
        Endpoint("mirror2.local", False, "hub/library/busybox"),
        Endpoint("docker.io", False, "library/busybox"),
    ]


def test_insecure_location(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    assert conf.endpoints(parse_reference("internal.example:5000/app")) == [
        Endpoint("internal.example:5000", True, "app")]
    assert conf.is_insecure("internal.example:5000") and conf.is_insecure("mirror.local:5000")
    assert not conf.is_insecure("docker.io")


def test_longest_prefix_wins_and_location_rewrites(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    assert conf.endpoints(parse_reference("example.com/team/app:1")) == [
        Endpoint("internal.example", False, "teams/one/app")]
    assert conf.endpoints(parse_reference("example.com/solo")) == [Endpoint("other.example", False, "solo")]
    # "example.com/teamwork" is not under the "example.com/team" prefix
    assert conf.endpoints(parse_reference("example.com/teamwork/x"))[0].host == "other.example"


def test_wildcard_prefix(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    assert conf.endpoints(parse_reference("a.wild.example/x")) == [Endpoint("a.wild.example", True, "x")]


def test_unlisted_registry_is_used_directly(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    assert conf.endpoints(parse_reference("ghcr.io/o/r")) == [Endpoint("ghcr.io", False, "o/r")]


def test_blocked_registry_refuses(tmp_path: Path) -> None:
    conf = conf_from(tmp_path, MAIN)
    with pytest.raises(UserError, match="blocked"):
        conf.endpoints(parse_reference("evil.example/x"))


def test_dropins_override_earlier_files(tmp_path: Path) -> None:
    dropin = """
unqualified-search-registries = ["localhost:5000"]
[[registry]]
location = "internal.example:5000"
insecure = false
[aliases]
"other" = "localhost:5000/other"
"""
    conf = conf_from(tmp_path, MAIN, dropin)
    assert conf.unqualified_search_registries == ["localhost:5000"]
    assert conf.endpoints(parse_reference("internal.example:5000/app"))[0].insecure is False
    assert set(conf.aliases) == {"tool", "other"}
    assert conf.endpoints(parse_reference("busybox"))[0].host == "mirror.local:5000", "untouched entries stay"


@pytest.mark.parametrize("text, problem", [
    ("unqualified-search-registries = 'quay.io'", "list"),
    ("[[registry]]\ninsecure = true", "location or a prefix"),
    ("[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\ninsecure = true", "mirror"),
    ("[[registry]]\nprefix = '*.x.io'\nlocation = 'y.io'", "wildcard"),
    ("not toml [", "TOML"),
])
def test_bad_files_name_the_file(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(UserError) as caught:
        conf_from(tmp_path, text)
    assert problem in caught.value.message and "0.conf" in caught.value.message


def test_environment_variable_selects_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "only.conf"
    path.write_text('unqualified-search-registries = ["localhost:5000"]\n')
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(path))
    assert standard_paths() == [path]
    assert RegistriesConf.load().unqualified_search_registries == ["localhost:5000"]


def test_rootless_user_file_replaces_system_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = tmp_path / "containers"
    (user_dir / "registries.conf.d").mkdir(parents=True)
    (user_dir / "registries.conf").write_text("")
    (user_dir / "registries.conf.d" / "50-mine.conf").write_text("")
    monkeypatch.delenv("CONTAINERS_REGISTRIES_CONF", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr("kubeplay.images.registries.is_rootless", lambda: True)
    paths = standard_paths()
    assert paths[0] == user_dir / "registries.conf"
    assert Path("/etc/containers/registries.conf") not in paths
    assert paths[-1] == user_dir / "registries.conf.d" / "50-mine.conf"


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    conf = RegistriesConf.from_files([tmp_path / "absent.conf"])
    assert conf.unqualified_search_registries == [] and conf.registries == ()

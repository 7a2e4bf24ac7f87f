"""containers.conf layers: files that set none of the keys kubeplay honours are not parsed, the
others are, in podman's order, and a broken one that matters is a clear error."""

from __future__ import annotations

import pytest

from kubeplay import config
from kubeplay.config import ContainersConf, _mentions
from kubeplay.errors import UserError


@pytest.mark.parametrize("text, found", [
    ('[engine]\nruntime = "runc"\n', True),
    ('engine.runtime="crun"\n', True),
    ('[containers]\n  "default_ulimits" = []\n', True),
    ('# runtime = "crun"\n[engine.runtimes]\nrunc = ["/usr/bin/runc"]\n', False),
    ('[containers]\ndefault_capabilities = ["CHOWN"]\n', False),
])
def test_only_assignments_of_the_keys_count(text, found):
    assert _mentions(text, ("runtime", "conmon_path", "default_ulimits")) is found


def test_layers_override_in_order_and_unrelated_files_are_skipped(tmp_path, monkeypatch):
    low, high = tmp_path / "usr", tmp_path / "etc"
    (low / "containers.conf.d").mkdir(parents=True)
    (high / "containers.conf.d").mkdir(parents=True)
    (low / "containers.conf").write_text('[engine]\nruntime = "crun"\n')
    (high / "containers.conf.d" / "10-other.conf").write_text("this is not TOML [ but names nothing we read\n")
    (high / "containers.conf.d" / "20-mine.conf").write_text(
        '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=1024:1024"]\n')
    monkeypatch.setattr(config, "config_dirs", lambda: [low, high])
    assert ContainersConf.load() == ContainersConf(runtime="runc", default_ulimits=("nofile=1024:1024",))


def test_a_broken_file_that_sets_a_key_is_named(tmp_path, monkeypatch):
    (tmp_path / "containers.conf").write_text('[engine]\nruntime = "runc\n')
    monkeypatch.setattr(config, "config_dirs", lambda: [tmp_path])
    with pytest.raises(UserError, match="containers.conf: cannot be read as TOML"):
        ContainersConf.load()

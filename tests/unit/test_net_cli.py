"""`kubeplay network` commands against a temporary root (create, ls, inspect, rm; no bridge made)."""

import json

from click.testing import CliRunner

from kubeplay.cli.network import network
from kubeplay.config import Settings
from kubeplay.errors import ConflictError, NotFoundError


def run(settings, *args):
    return CliRunner().invoke(network, list(args), obj=settings, catch_exceptions=True)


def test_create_ls_inspect_rm(tmp_path):
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    assert run(settings, "create", "blue", "--subnet", "10.89.250.0/24").output == "blue\n"
    listed = json.loads(run(settings, "ls", "--format", "json").output)
    assert [(n["name"], n["subnet"], n["gateway"]) for n in listed] == [("blue", "10.89.250.0/24", "10.89.250.1")]
    table = run(settings, "ls").output.splitlines()
    assert table[0].split() == ["NAME", "SUBNET", "GATEWAY", "BRIDGE", "CREATED"]
    assert table[1].startswith("blue")
    info = json.loads(run(settings, "inspect", "blue").output)
    assert info["leases"] == [] and info["bridge_present"] is False
    clash = run(settings, "create", "green", "--subnet", "10.89.250.0/25")
    assert isinstance(clash.exception, ConflictError)
    missing = run(settings, "inspect", "nope")
    assert isinstance(missing.exception, NotFoundError)
    assert run(settings, "rm", "blue").output == "blue\n"
    assert json.loads(run(settings, "ls", "--format", "json").output) == []


def test_a_network_may_not_overlap_the_service_range(tmp_path):
    from kubeplay.store.db import open_database
    from kubeplay.store.services import ServiceSettings, ServiceStore

    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    assert run(settings, "create", "first").exit_code == 0  # makes the store
    ServiceStore(open_database(settings.root)).fix_settings(ServiceSettings("10.89.0.0/16", "cluster.local"))
    clash = run(settings, "create", "inside", "--subnet", "10.89.7.0/24")
    assert isinstance(clash.exception, ConflictError)
    assert "service range 10.89.0.0/16" in clash.exception.message
    picked = run(settings, "create", "auto")
    assert isinstance(picked.exception, ConflictError)  # the default pool 10.89.0.0/16 is all taken

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

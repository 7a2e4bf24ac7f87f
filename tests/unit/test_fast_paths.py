"""The pieces that keep play, down and the exit callback fast: argv of the exit callback,
signal names, peer lists from one listing, and the namespace thread helper's error translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.config import Settings
from kubeplay.errors import HostError, UserError
from kubeplay.net.netns import _on_own_thread
from kubeplay.pods.containers import _signal_number, callback_argv
from kubeplay.pods.engine import Engine
from kubeplay.pods.network import peers_among


def test_callback_argv_carries_the_roots_and_runtime(tmp_path):
    engine = Engine(Settings(root=tmp_path / "root", runroot=tmp_path / "run", runtime="runc"))
    argv = callback_argv(engine, "container-exited", "cid")
    assert argv[-2:] == ["container-exited", "cid"]
    assert argv[argv.index("--root") + 1] == str(tmp_path / "root")
    assert argv[argv.index("--runroot") + 1] == str(tmp_path / "run")
    assert argv[argv.index("--runtime") + 1] == "runc"
    assert argv[argv.index("-m") + 1] == "kubeplay"


@pytest.mark.parametrize("name, number", [("SIGTERM", 15), ("TERM", 15), ("sigkill", 9), ("2", 2),
                                          ("SIGRTMIN+3", None), ("NOPE", None)])
def test_signal_number(name, number):
    assert _signal_number(name) == number


def _record(name: str, ip: str, network: str = "", namespace: str = "default"):
    """An address as store.pod_addresses gives it: (name, namespace, ip, network, hostNetwork)."""
    return (name, namespace, ip, network, False)


def test_peers_among_leaves_out_self_leaving_pods_other_networks_and_pods_without_ip():
    records = [_record("a", "10.0.0.2"), _record("b", "10.0.0.3"), _record("c", "10.0.0.4"),
               _record("d", ""), _record("e", "10.1.0.2", network="other")]
    assert peers_among(records, "a", "kubeplay") == [("b", "default", "10.0.0.3"), ("c", "default", "10.0.0.4")]
    assert peers_among(records, "a", "kubeplay", leaving={"c"}) == [("b", "default", "10.0.0.3")]
    assert peers_among(records, "a", "none") == []
    assert peers_among(records, "x", "other") == [("e", "default", "10.1.0.2")]


def test_namespace_thread_turns_os_errors_into_host_errors_and_passes_others():
    def fails() -> None:
        raise OSError(1, "entering /nowhere: Operation not permitted")

    with pytest.raises(HostError) as caught:
        _on_own_thread(fails, "doing it", hint="the hint")
    assert "doing it: entering /nowhere" in caught.value.message and caught.value.hint == "the hint"

    def refuses() -> None:
        raise UserError("bad", hint="fix")

    with pytest.raises(UserError):
        _on_own_thread(refuses, "doing it")
    assert _on_own_thread(lambda: 42, "doing it") == 42


def test_run_in_netns_of_a_missing_path_is_a_host_error(tmp_path):
    from kubeplay.net.netns import run_in_netns

    with pytest.raises(HostError):
        run_in_netns(Path(tmp_path / "missing"), lambda: None)

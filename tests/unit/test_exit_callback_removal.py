"""An exit callback of a container whose pod is being removed ends in the shell, before any Python
starts; otherwise it runs kubeplay's container-exited."""

import subprocess

from kubeplay.config import Settings
from kubeplay.defaults import REMOVING_MARK
from kubeplay.pods.containers import callback_argv
from kubeplay.pods.engine import Engine
from kubeplay.pods.paths import ContainerPaths


def guarded(tmp_path, marker: str) -> list[str]:
    """The exit command with kubeplay replaced by a program that leaves `marker` when it runs."""
    engine = Engine(Settings(root=tmp_path / "root", runroot=tmp_path / "run"))
    argv = callback_argv(engine, "container-exited", "abc")
    program = argv.index("-m") - 1  # the interpreter: everything from it on is kubeplay's own argv
    return argv[:program] + ["touch", marker]


def test_the_exit_command_runs_kubeplay_only_for_a_bundle_that_is_not_being_removed(tmp_path):
    engine = Engine(Settings(root=tmp_path / "root", runroot=tmp_path / "run"))
    bundle = ContainerPaths(engine.settings, "abc").bundle
    ran = tmp_path / "ran"
    subprocess.run(guarded(tmp_path, str(ran)), check=True, timeout=10)
    assert not ran.exists()  # no bundle: removed already
    bundle.mkdir(parents=True)
    subprocess.run(guarded(tmp_path, str(ran)), check=True, timeout=10)
    assert ran.exists()
    ran.unlink()
    (bundle / REMOVING_MARK).touch()
    subprocess.run(guarded(tmp_path, str(ran)), check=True, timeout=10)
    assert not ran.exists()


def test_only_the_exit_callback_is_guarded(tmp_path):
    engine = Engine(Settings(root=tmp_path / "root", runroot=tmp_path / "run"))
    exited = callback_argv(engine, "container-exited", "abc")
    assert exited[:2] == ["/bin/sh", "-c"] and exited[-2:] == ["container-exited", "abc"]
    assert callback_argv(engine, "container-restart", "abc")[-2:] == ["container-restart", "abc"]
    assert callback_argv(engine, "container-restart", "abc")[0] != "/bin/sh"

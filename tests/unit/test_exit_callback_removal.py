"""An exit callback of a container whose pod is being removed ends before loading anything."""

from kubeplay.cli.internal import being_removed, main
from kubeplay.defaults import REMOVING_MARK


def test_a_marked_or_missing_bundle_is_being_removed(tmp_path):
    bundle = tmp_path / "containers" / "abc"
    assert being_removed(str(tmp_path), "abc")  # gone already
    bundle.mkdir(parents=True)
    assert not being_removed(str(tmp_path), "abc")
    (bundle / REMOVING_MARK).touch()
    assert being_removed(str(tmp_path), "abc")


def test_the_callback_of_a_removed_container_does_nothing(tmp_path):
    (tmp_path / "containers" / "abc").mkdir(parents=True)
    (tmp_path / "containers" / "abc" / REMOVING_MARK).touch()
    root = tmp_path / "root"
    assert main(["--root", str(root), "--runroot", str(tmp_path), "container-exited", "abc"]) == 0
    assert not root.exists()  # no store was opened, let alone made

"""The pure parts of kubeplay's fault handling: removals that run every step, signals that end a
command as Ctrl-C does, resumable ingest files, the names `down` reads, fsGroup on a directory,
containers.conf limits, and a bounded run of calls together."""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import threading
import time

import pytest

from kubeplay import config
from kubeplay.cleanup import run_every_step
from kubeplay.cli import signals
from kubeplay.config import ContainersConf
from kubeplay.errors import HostError, KubeplayError, RuntimeFailure, UserError
from kubeplay.images.content import ContentStore, digest_bytes
from kubeplay.threads import run_together
from kubeplay.pods.volumes import apply_fs_group
from kubeplay.translate.loader import parse
from kubeplay.translate.targets import names_in


def test_every_step_runs_and_every_failure_is_named():
    ran = []

    def fails(text: str, kind=HostError):
        def step() -> None:
            ran.append(text)
            raise kind(text)
        return step

    with pytest.raises(RuntimeFailure) as caught:
        run_every_step([fails("runtime delete refused", RuntimeFailure), lambda: ran.append("unmount"),
                        fails("netns busy"), fails("bad value", ValueError)])
    assert ran == ["runtime delete refused", "unmount", "netns busy", "bad value"]
    assert str(caught.value) == "runtime delete refused; netns busy; ValueError: bad value"
    assert caught.value.exit_code == 125


def test_a_lone_failure_is_raised_as_it_is():
    with pytest.raises(OSError, match="busy"):
        run_every_step([lambda: (_ for _ in ()).throw(OSError("busy"))])


def test_a_foreign_first_failure_among_several_becomes_a_kubeplay_error():
    def broken() -> None:
        raise OSError("device busy")

    with pytest.raises(KubeplayError, match="device busy; second"):
        run_every_step([broken, lambda: (_ for _ in ()).throw(UserError("second"))])


def test_the_first_ending_signal_raises_and_later_ones_are_only_noted():
    saved = {number: signal.getsignal(number) for number in signals.ENDING_SIGNALS}
    try:
        signals.end_like_interrupt()
        with pytest.raises(signals.Terminated) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs between bytecodes, at the latest here
        assert isinstance(caught.value, KeyboardInterrupt)
        assert signals.exit_code(caught.value) == 143
        os.kill(os.getpid(), signal.SIGHUP)  # during the roll-back: no second interrupt
        time.sleep(0.05)
        assert signals.exit_code(KeyboardInterrupt()) == 130
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def test_an_interrupted_ingest_is_resumed_and_verified(tmp_path):
    store = ContentStore(tmp_path)
    data = os.urandom(300_000)
    digest = digest_bytes(data)
    ingest = store.path(digest).parent / f".ingest-{digest.split(':')[1]}"
    ingest.parent.mkdir(parents=True)
    ingest.write_bytes(data[:100_000])  # what a killed pull left
    with store.writer(digest, len(data), resume=True) as sink:
        assert sink.size == 100_000
        sink.write(data[100_000:])
    assert store.path(digest).read_bytes() == data and not ingest.exists()


def test_a_failed_write_keeps_its_bytes_only_when_resumable(tmp_path):
    store = ContentStore(tmp_path)
    data = b"x" * 1000
    digest = digest_bytes(data)
    for resume, kept in ((True, True), (False, False)):
        with pytest.raises(ConnectionError), store.writer(digest, len(data), resume=resume) as sink:
            sink.write(data[:500])
            raise ConnectionError("cut")
        leftovers = list(store.path(digest).parent.glob(".ingest-*"))
        assert bool(leftovers) is kept
        for path in leftovers:
            path.unlink()


def test_stale_ingests_are_removed_but_one_being_written_is_kept(tmp_path):
    store = ContentStore(tmp_path)
    directory = tmp_path / "blobs" / "sha256"
    directory.mkdir(parents=True)
    (directory / ".ingest-dead").write_bytes(b"half")
    live = directory / ".ingest-live"
    live.write_bytes(b"half")
    fd = os.open(live, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert [path.name for path in store.remove_stale_ingests()] == [".ingest-dead"]
        assert live.exists()
    finally:
        os.close(fd)


def test_down_reads_only_kinds_and_names():
    text = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: a, image: x, env: [{name: A, valueFrom: {configMapKeyRef: {name: missing, key: k}}}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec: {this: is not valid}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
kind: Job
metadata: {}
"""
    found = names_in(parse(text, "app.yaml", "."))
    assert found.pods == {"web"}
    assert found.workloads == {("Deployment", "api", "shop")}
    assert found.claims == ("data",)


def test_fs_group_gives_the_tree_to_the_group(tmp_path):
    gid = os.getgid()
    (tmp_path / "sub").mkdir(mode=0o700)
    (tmp_path / "sub" / "file").write_text("x")
    os.chmod(tmp_path / "sub" / "file", 0o400)
    apply_fs_group(tmp_path, gid, read_only=False)
    directory, file = (tmp_path / "sub").stat(), (tmp_path / "sub" / "file").stat()
    assert directory.st_mode & stat.S_ISGID and stat.S_IMODE(directory.st_mode) & 0o070 == 0o070
    assert stat.S_IMODE(file.st_mode) == 0o660 and file.st_gid == gid
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "token").write_text("t")
    os.chmod(secret / "token", 0o400)
    apply_fs_group(secret, gid, read_only=True)
    assert stat.S_IMODE((secret / "token").stat().st_mode) == 0o440


def test_on_root_mismatch_skips_a_tree_whose_root_is_already_so(tmp_path):
    gid = os.getgid()
    apply_fs_group(tmp_path, gid, read_only=False)
    (tmp_path / "later").write_text("x")
    os.chmod(tmp_path / "later", 0o600)
    apply_fs_group(tmp_path, gid, read_only=False, only_on_mismatch=True)
    assert stat.S_IMODE((tmp_path / "later").stat().st_mode) == 0o600  # not walked again
    apply_fs_group(tmp_path, gid, read_only=False)
    assert stat.S_IMODE((tmp_path / "later").stat().st_mode) == 0o660


def test_containers_conf_limits_default_to_podmans_and_can_be_set(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "config_dirs", lambda: [tmp_path])
    assert (ContainersConf.load().pids_limit, ContainersConf.load().log_size_max) == (2048, 10 << 20)
    (tmp_path / "containers.conf").write_text("[containers]\npids_limit = 0\nlog_size_max = 1048576\n")
    assert (ContainersConf.load().pids_limit, ContainersConf.load().log_size_max) == (0, 1 << 20)
    (tmp_path / "containers.conf").write_text('[containers]\npids_limit = "many"\n')
    with pytest.raises(UserError, match="pids_limit must be a whole number"):
        ContainersConf.load()


def test_calls_run_together_a_few_at_a_time_and_all_of_them():
    running, most = [0], [0]
    guard = threading.Lock()

    def call(index: int) -> int:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with guard:
            running[0] -= 1
        return index

    assert run_together([lambda index=index: call(index) for index in range(40)], limit=5) == list(range(40))
    assert 1 < most[0] <= 5

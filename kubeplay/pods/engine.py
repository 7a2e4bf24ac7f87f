"""What every pod verb needs: the settings, the state store and the runtime, opened once per command."""

from __future__ import annotations

import sys
from functools import cached_property

from kubeplay.config import Settings
from kubeplay.store.db import Database, open_database
from kubeplay.store.pods import PodStore


class Engine:
    def __init__(self, settings: Settings, pull_options=None) -> None:
        settings.ensure_dirs()
        self.settings = settings
        # sockets a service manager hands to this play's containers (kubeplay.pods.handoff); None: none
        self.handoff = None
        self.pull_options = pull_options  # a pods.images.PullOptions; None: the defaults

    @cached_property
    def db(self) -> Database:
        return open_database(self.settings.root)

    @cached_property
    def store(self) -> PodStore:
        return PodStore(self.db)

    @cached_property
    def runtime_info(self):
        from kubeplay.runtime.probe import detect_runtime

        return detect_runtime(self.settings)

    @cached_property
    def runtime(self):
        from kubeplay.pods.paths import runtime_state_root
        from kubeplay.runtime.oci_runtime import OciRuntime

        return OciRuntime(self.runtime_info, runtime_state_root(self.settings))

    def prepare_for_threads(self) -> None:
        """Make the lazily made parts once, before worker threads race to make them: the store, the
        runtime, and the run root's session marker (written through a per-process temporary name)."""
        from kubeplay.pods.status import session_id

        self.store, self.runtime  # noqa: B018
        session_id(self.settings)

    def callback_argv(self, *args: str) -> list[str]:
        """kubeplay itself, with this command's roots, for conmon's --exit-command."""
        argv = [sys.executable, "-m", "kubeplay", "--root", str(self.settings.root),
                "--runroot", str(self.settings.runroot)]
        if self.settings.runtime:
            argv += ["--runtime", self.settings.runtime]
        return argv + list(args)

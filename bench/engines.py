"""The two engines under test, each bound to its own private state directories.

`Kubeplay` runs the installed console script with --root/--runroot under the bench directory.
`Podman` runs podman with --root/--runroot/--tmpdir and a CNI config directory under the bench
directory, and with CONTAINERS_CONF pointing at a bench-only containers.conf (runc, and ulimits this
host can grant), so neither the user's podman state nor their configuration files are touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

COMMAND_TIMEOUT = 300.0

# crun 1.8 refuses hybrid cgroup hosts; the process cannot raise rlimits, so podman's default
# (nofile 1048576) would fail at container start: ask for what the host's hard limits allow
PODMAN_CONF = """[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
"""


class BenchError(RuntimeError):
    """A bench step failed; the message carries the command and its output."""


@dataclass(frozen=True)
class Run:
    seconds: float
    stdout: str
    stderr: str


def run_timed(argv: list[str], env: dict[str, str], timeout: float = COMMAND_TIMEOUT,
              check: bool = True, cwd: Path | None = None) -> Run:
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)}: no answer in {timeout:.0f} s") from exc
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return Run(seconds, done.stdout, done.stderr)


@dataclass
class Engine:
    name: str
    base: Path
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def __call__(self, *args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> Run:
        return run_timed(self.argv(*args), self.env, timeout, check, cwd=self.base)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def runroot(self) -> Path:
        return self.base / "runroot"


def kubeplay_script() -> str:
    # the console script as installed in the project's virtualenv: what a user runs
    script = Path(sys.executable).with_name("kubeplay")
    return str(script) if script.exists() else shutil.which("kubeplay") or "kubeplay"


class Kubeplay(Engine):
    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for name in [k for k in env if k.startswith("KUBEPLAY_")]:
            env.pop(name)
        env.update({"REGISTRY_AUTH_FILE": str(base / "auth.json"), "XDG_CONFIG_HOME": str(base / "xdg-config")})
        super().__init__("kubeplay", base, env)
        self.script = kubeplay_script()

    def argv(self, *args: str) -> list[str]:
        return [self.script, "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def version(self) -> str:
        return run_timed([self.script, "--version"], self.env).stdout.strip()

    def pull_args(self, reference: str) -> list[str]:
        return ["pull", "-q", "--no-tls-verify", reference]

    def list_pods_args(self) -> list[str]:
        return ["pods"]

    def generate_args(self, pod: str) -> list[str] | None:
        probe = self("generate", "--help", check=False)
        if "No such command" in probe.stderr or "No such command" in probe.stdout:
            return None
        return ["generate", pod]

    def play_args(self, manifest: Path) -> list[str]:
        return ["play", "-q", str(manifest)]

    def down_args(self, manifest: Path) -> list[str]:
        return ["down", "-q", str(manifest)]


class Podman(Engine):
    def __init__(self, base: Path, network: str = "") -> None:
        base.mkdir(parents=True, exist_ok=True)
        conf = base / "containers.conf"
        conf.write_text(PODMAN_CONF)
        # podman insists that a named auth file exists
        (base / "auth.json").write_text("{}")
        env = dict(os.environ)
        env.update({"CONTAINERS_CONF": str(conf), "REGISTRY_AUTH_FILE": str(base / "auth.json"),
                    "XDG_CONFIG_HOME": str(base / "xdg-config")})
        super().__init__("podman", base, env)
        self.network = network
        (base / "cni").mkdir(exist_ok=True)
        (base / "tmp").mkdir(exist_ok=True)

    def argv(self, *args: str) -> list[str]:
        return ["podman", "--root", str(self.root), "--runroot", str(self.runroot), "--tmpdir",
                str(self.base / "tmp"), "--network-config-dir", str(self.base / "cni"),
                "--events-backend", "file", *args]

    def version(self) -> str:
        return run_timed(["podman", "--version"], self.env).stdout.strip()

    def pull_args(self, reference: str) -> list[str]:
        return ["pull", "-q", "--tls-verify=false", reference]

    def list_pods_args(self) -> list[str]:
        return ["pod", "ps"]

    def generate_args(self, pod: str) -> list[str] | None:
        return ["generate", "kube", pod]

    def play_args(self, manifest: Path) -> list[str]:
        network = ["--network", self.network] if self.network else []
        return ["kube", "play", "--quiet", *network, str(manifest)]

    def down_args(self, manifest: Path) -> list[str]:
        return ["kube", "down", str(manifest)]

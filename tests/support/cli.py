"""Run the kubeplay CLI as a user would: a subprocess bound to its own --root and --runroot.

`KubeplayRunner(root, runroot)` runs `python -m kubeplay --root R --runroot RR ARGS...` with a timeout
and returns a `CLIResult` (unpacks as returncode, stdout, stderr). Its environment points auth.json
and XDG directories into the runner's own tree, so no test reads or writes the host's credentials.
`offline=True` runs a command in an empty network namespace, for inputs that would otherwise reach
past 127.0.0.1 (a name that does not resolve still sends a DNS query). `cleanup()` unmounts
whatever is still mounted below its directories and removes them.

As root, the run root lives on a tmpfs mounted nosuid,nodev,noexec, as systemd mounts /run and
$XDG_RUNTIME_DIR: whatever kubeplay puts there must work without exec, device nodes or setuid.
`leftover_mounts()` lists what kubeplay left mounted (that tmpfs itself excluded).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

DEFAULT_TIMEOUT = 120.0


class CLIResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def hint_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("hint:")]

    def assert_fails_cleanly(self, exit_codes: tuple[int, ...] = (1, 125), mentions: tuple[str, ...] = ()) -> str:
        """A user-facing failure: the expected exit code, one `error:` line, a `hint:`, no traceback.

        Returns the error line; `mentions` are strings it must contain (case-insensitive).
        """
        assert self.returncode in exit_codes, f"exit {self.returncode}, wanted {exit_codes}; stderr: {self.stderr}"
        assert "Traceback" not in self.stderr, self.stderr
        assert "internal error" not in self.stderr, self.stderr
        errors = self.error_lines()
        assert len(errors) == 1, f"wanted one error line: {self.stderr}"
        assert self.hint_lines(), f"no hint: {self.stderr}"
        for text in mentions:
            assert text.lower() in errors[0].lower(), f"{text!r} not named in {errors[0]!r}"
        return errors[0]


RUN_MOUNT_OPTIONS = "nosuid,nodev,noexec,mode=0755"


def mount_run_tmpfs(directory: Path, options: str = RUN_MOUNT_OPTIONS) -> None:
    """A tmpfs like systemd's /run on `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], check=True,
                   capture_output=True, timeout=30)


class KubeplayRunner:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.run_mount = base / "run"
        if os.geteuid() == 0:
            mount_run_tmpfs(self.run_mount)
        self.runroot = self.run_mount / "kubeplay"
        self.authfile = base / "auth.json"
        self.env = dict(os.environ)
        self.env.update({
            "REGISTRY_AUTH_FILE": str(self.authfile),
            "XDG_RUNTIME_DIR": str(base / "xdg-run"),
            "XDG_CONFIG_HOME": str(base / "xdg-config"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        for name in ("KUBEPLAY_ROOT", "KUBEPLAY_RUNROOT", "KUBEPLAY_DEBUG"):
            self.env.pop(name, None)
        (base / "xdg-run").mkdir(parents=True, exist_ok=True, mode=0o700)

    def argv(self, *args: str, offline: bool = False) -> list[str]:
        command = [sys.executable, "-m", "kubeplay", "--root", str(self.root), "--runroot", str(self.runroot), *args]
        return offline_prefix() + command if offline else command

    def __call__(self, *args: str, timeout: float = DEFAULT_TIMEOUT, input: str | None = None,
                 offline: bool = False) -> CLIResult:
        """Run a command; `offline` runs it in a fresh, empty network namespace (no packet can leave)."""
        if args[:1] == ("exec",):
            skip_inside_a_chroot("kubeplay refuses exec there: the runtime's exec would enter the host's root")
        try:
            done = subprocess.run(self.argv(*args, offline=offline), capture_output=True, text=True, timeout=timeout,
                                  input=input, env=self.env, cwd=self.base,
                                  stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"kubeplay {' '.join(args)} did not finish in {timeout}s; "
                                 f"stderr so far: {exc.stderr!r}") from exc
        return CLIResult(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str) -> subprocess.Popen:
        """Start a command without waiting (the caller must wait or kill it)."""
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=self.env, cwd=self.base, text=True)

    def images_json(self) -> list[dict]:
        result = self("images", "--format", "json")
        assert result.returncode == 0, f"images failed: {result.stderr}"
        listed = json.loads(result.stdout or "[]")
        return listed if isinstance(listed, list) else [listed]

    def inspect_json(self, name: str) -> dict:
        result = self("image", "inspect", name, "--format", "json")
        assert result.returncode == 0, f"image inspect {name} failed: {result.stderr}"
        shown = json.loads(result.stdout)
        if isinstance(shown, list):
            assert len(shown) == 1, shown
            shown = shown[0]
        return shown

    def leftover_mounts(self) -> list[str]:
        """Mounts below the runner's tree that kubeplay made (not the run root's own tmpfs)."""
        return [point for point in mounts_below(self.base) if point != str(self.run_mount.resolve())]

    def files_under_root(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else []

    def blob_paths(self) -> list[Path]:
        """Blobs in the content store (see kubeplay.images.content); temp files excluded."""
        directory = self.root / "blobs" / "sha256"
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.iterdir() if not p.name.startswith("."))

    def cleanup(self) -> None:
        if (self.root / "kubeplay.db").exists() and os.geteuid() == 0:
            # whatever the test left (pods, its store's bridge and nft chains) goes the way a user's would
            self("system", "reset", "--force", timeout=180)
        unmount_below(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def skip_inside_a_chroot(why: str) -> None:
    """Skip the test when the suite runs inside a chroot (/ is not its mount namespace's root), where
    what it needs cannot work for any engine: `why` says what."""
    import pytest

    from kubeplay.runtime.mountroot import exec_enters_host_root

    if exec_enters_host_root():
        pytest.skip(f"inside a chroot: {why}")


def find_values(tree: object, key: str) -> list[object]:
    """Every value stored under `key` (case-insensitive, "_" ignored) anywhere in a JSON tree.

    Output formats name fields "Cmd", "cmd" or "diff_ids"/"DiffIDs"; tests look for meaning, not spelling.
    """
    wanted = key.lower().replace("_", "")
    found: list[object] = []
    if isinstance(tree, dict):
        for name, value in tree.items():
            if str(name).lower().replace("_", "") == wanted:
                found.append(value)
            found += find_values(value, key)
    elif isinstance(tree, list):
        for item in tree:
            found += find_values(item, key)
    return found


def offline_prefix() -> list[str]:
    """argv prefix that gives a command its own network namespace with nothing in it.

    Names a test expects not to resolve (``*.invalid``) would otherwise reach the host's DNS server.
    """
    if shutil.which("unshare") is None:
        raise RuntimeError("unshare (util-linux) is needed to run a command offline")
    if os.geteuid() == 0:
        return ["unshare", "--net"]
    return ["unshare", "--user", "--map-root-user", "--net"]


def mounts_below(base: Path) -> list[str]:
    """Mount points at or below `base`, deepest first (from /proc/self/mountinfo)."""
    prefix = str(base.resolve())
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        # mountinfo escapes spaces and the like as octal
        point = fields[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def process_command_lines() -> list[str]:
    """Every process's command line, as `ps -eo pid,args` shows it (read from /proc: a minimal
    system has no ps)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            except OSError:
                continue
            lines.append(f"{entry.name} " + " ".join(arg.decode(errors="replace") for arg in argv))
    return lines


def unmount_below(base: Path) -> None:
    if not base.exists():
        return
    for point in mounts_below(base):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


_MODULES_PROBE = """
import json, sys
from kubeplay.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(name for name in sys.modules if name.startswith("kubeplay"))), file=sys.stderr)
"""


def kubeplay_modules_after(argv: list[str]) -> tuple[str, list[str]]:
    """Run `kubeplay ARGV` in a fresh interpreter: its stdout, and the kubeplay modules it loaded."""
    done = subprocess.run([sys.executable, "-c", _MODULES_PROBE.format(argv=argv)], capture_output=True,
                          text=True, timeout=60, check=False)
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])

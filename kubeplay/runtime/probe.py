"""Which OCI runtime works on this host, found by really running a tiny container with each.

Order: ``--runtime`` (a name on PATH or a path; if it fails, that is an error), then containers.conf
``engine.runtime``, then crun, then runc. The probe container is a static busybox running ``true`` in
a throwaway bundle under the graph root: the run root is often a tmpfs mounted nosuid,nodev,noexec
(systemd's /run, $XDG_RUNTIME_DIR), and a rootfs there could not execute anything. The winner is
cached in ``<runroot>/runtime.json``, keyed by every candidate's path and mtime, so later commands
skip the probe until a runtime is upgraded.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from kubeplay.config import ContainersConf, Settings, is_rootless
from kubeplay.errors import HostError, NotFoundError, RuntimeFailure
from kubeplay.runtime.classify import FailureContext, classify, last_meaningful

DEFAULT_RUNTIMES = ("crun", "runc")
BUSYBOX = Path("/bin/busybox")
PROBE_TIMEOUT = 10.0
# runc lives in /usr/sbin on Debian, which a user's PATH may lack.
_EXTRA_DIRS = ("/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin", "/bin", "/sbin")


@dataclass(frozen=True)
class RuntimeInfo:
    """The OCI runtime kubeplay uses: name, path, version."""

    name: str
    path: str
    version: str


@dataclass(frozen=True)
class ProbeResult:
    """What a probe run of one runtime found."""

    name: str
    path: str | None
    ok: bool
    version: str | None
    error: str | None


def resolve_runtime(name_or_path: str) -> Path | None:
    """An executable runtime by absolute path, or by name on PATH and the usual sbin directories."""
    if os.sep in name_or_path:
        path = Path(name_or_path)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_DIRS])
    found = shutil.which(name_or_path, path=search)
    return Path(found) if found else None


def runtime_version(path: Path) -> str:
    """The version a runtime reports: `runc version 1.1.5` -> `1.1.5`."""
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = done.stdout.splitlines()[0] if done.stdout else ""
    words = first.split()
    if "version" in words and words.index("version") + 1 < len(words):
        return words[words.index("version") + 1]
    return first or "unknown"


def probe_spec(rootfs: Path) -> dict:
    """A minimal OCI config that runs `busybox true`; rlimits are the host's own, never above them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    rlimits = []
    if hard != resource.RLIM_INFINITY and hard > 0:
        rlimits.append({"type": "RLIMIT_NOFILE", "hard": hard, "soft": min(soft, hard)})
    namespaces = [{"type": kind} for kind in ("pid", "mount", "ipc", "uts")]
    linux: dict = {"namespaces": namespaces}
    if is_rootless():
        namespaces.append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.getuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getgid(), "size": 1}]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/busybox", "true"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "noNewPrivileges": True,
            "rlimits": rlimits,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "kubeplay-probe",
        # runc closes inherited fds through /proc/self/fd, so /proc must exist in the container.
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": linux,
    }


def _build_probe_bundle(bundle: Path) -> None:
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "proc").mkdir()
    try:
        os.link(BUSYBOX, rootfs / "bin" / "busybox")  # same filesystem: no copy needed
    except OSError:
        import shutil

        shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    (bundle / "config.json").write_text(json.dumps(probe_spec(rootfs)))


def probe_runtime(name: str, path: Path, settings: Settings) -> ProbeResult:
    """Run the probe container with the runtime at ``path``; ok only if it ran and exited 0."""
    if not BUSYBOX.is_file():
        return ProbeResult(name, str(path), False, None, f"{BUSYBOX} is missing (install busybox-static)")
    version = runtime_version(path)
    container_id = f"kubeplay-probe-{secrets.token_hex(6)}"
    try:
        settings.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        import tempfile  # only here: other paths do not need it

        scratch_dir = tempfile.TemporaryDirectory(prefix="probe-", dir=settings.root)
    except OSError as exc:
        raise HostError(f"cannot build the runtime test bundle under {settings.root}: {exc}",
                        hint="pass --root to a writable directory") from exc
    with scratch_dir as scratch:
        try:
            _build_probe_bundle(Path(scratch) / "bundle")
        except OSError as exc:
            raise HostError(f"cannot build the runtime test bundle under {settings.root}: {exc}",
                            hint="pass --root to a writable directory") from exc
        bundle = Path(scratch) / "bundle"
        state_root = Path(scratch) / "state"
        base = [str(path), "--root", str(state_root), "--log-format", "json"]
        try:
            done = subprocess.run([*base, "run", "--bundle", str(bundle), container_id],
                                  capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
            error = None if done.returncode == 0 else last_meaningful(done.stderr)
        except subprocess.TimeoutExpired:
            error = f"the test container did not finish within {PROBE_TIMEOUT:.0f}s"
        except OSError as exc:
            error = f"cannot execute {path}: {exc.strerror}"
        finally:
            try:
                subprocess.run([*base, "delete", "--force", container_id], capture_output=True,
                               timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                pass
    return ProbeResult(name, str(path), error is None, version, error)


def candidate_names(settings: Settings) -> list[str]:
    """Runtimes to try, in order, without duplicates."""
    if settings.runtime:
        return [settings.runtime]
    names: list[str] = []
    configured = ContainersConf.load().runtime
    for name in ([configured] if configured else []) + list(DEFAULT_RUNTIMES):
        if name not in names:
            names.append(name)
    return names


def probe_all(settings: Settings) -> list[ProbeResult]:
    """Probe every candidate (crun and runc at least), for `system check`; never cached."""
    names = candidate_names(settings)
    for name in DEFAULT_RUNTIMES:
        if name not in names:
            names.append(name)
    results = []
    for name in names:
        path = resolve_runtime(name)
        if path is None:
            results.append(ProbeResult(name, None, False, None, "not installed (not found on PATH)"))
        else:
            results.append(probe_runtime(_display_name(name, path), path, settings))
    return results


def _display_name(name: str, path: Path) -> str:
    return path.name if os.sep in name else name


def _cache_key(paths: list[Path]) -> list[list]:
    key = []
    for path in paths:
        try:
            key.append([str(path), path.stat().st_mtime_ns])
        except OSError:
            key.append([str(path), None])
    return key


def _read_cache(cache: Path, key: list[list]) -> RuntimeInfo | None:
    try:
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return RuntimeInfo(**data["chosen"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_cache(cache: Path, key: list[list], info: RuntimeInfo) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = cache.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        partial.write_text(json.dumps({"key": key, "chosen": asdict(info)}))
        partial.replace(cache)
    except OSError:
        pass  # a cache that cannot be written only costs a probe next time


def detect_runtime(settings: Settings) -> RuntimeInfo:
    """The runtime kubeplay uses here: the first candidate whose probe passes, cached per run root."""
    names = candidate_names(settings)
    resolved = [(name, resolve_runtime(name)) for name in names]
    if settings.runtime and resolved[0][1] is None:
        raise NotFoundError(f'runtime "{settings.runtime}" not found',
                            hint="install it, or pass --runtime with an absolute path to an OCI runtime")
    present = [(name, path) for name, path in resolved if path is not None]
    cache = settings.runroot / "runtime.json"
    key = _cache_key([path for _, path in present])
    cached = _read_cache(cache, key)
    if cached is not None:
        return cached
    failures = []
    for name, path in present:
        result = probe_runtime(_display_name(name, path), path, settings)
        if result.ok:
            info = RuntimeInfo(result.name, str(path), result.version or "unknown")
            _write_cache(cache, key, info)
            return info
        if settings.runtime:
            ctx = FailureContext(runtime=result.name, action="probe")
            typed = classify(result.error or "", ctx)
            raise RuntimeFailure(f'runtime "{settings.runtime}" ({path}) failed its test container: {result.error}',
                                 hint=typed.hint)
        failures.append(f"{result.name}: {result.error}")
    missing = [name for name, path in resolved if path is None]
    detail = "; ".join(failures + [f"{name}: not installed" for name in missing])
    raise HostError(f"no working OCI runtime found ({detail})",
                    hint="install runc or crun; `kubeplay system check` explains what fails")

"""Where kubeplay keeps things, and the settings it reads from the environment and containers.conf.

Root and rootless users get separate stores: root uses /var/lib/kubeplay and /run/kubeplay; any other
user uses $XDG_DATA_HOME/kubeplay and $XDG_RUNTIME_DIR/kubeplay (or /tmp/kubeplay-$UID).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from kubeplay.defaults import DATABASE_NAME, ROOT_GRAPH_ROOT, ROOT_RUN_ROOT, ROOTLESS_UID_ENV
from kubeplay.errors import HostError, UserError


def in_initial_user_namespace() -> bool:
    """True unless this process runs in a user namespace (whose uid_map is not the identity)."""
    try:
        lines = Path("/proc/self/uid_map").read_text().split("\n")
    except OSError:
        return True
    return lines[0].split() == ["0", "0", "4294967295"]


def is_rootless() -> bool:
    if os.geteuid() != 0:
        return True
    return bool(os.environ.get(ROOTLESS_UID_ENV)) and not in_initial_user_namespace()


def user_id() -> int:
    """The uid of the user kubeplay runs for, also from inside its user namespace."""
    marker = os.environ.get(ROOTLESS_UID_ENV, "")
    if os.geteuid() == 0 and marker.split(":")[0].isdigit() and not in_initial_user_namespace():
        return int(marker.split(":")[0])
    return os.getuid()


def home_dir() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def default_root() -> Path:
    if not is_rootless():
        return Path(ROOT_GRAPH_ROOT)
    data_home = os.environ.get("XDG_DATA_HOME") or str(home_dir() / ".local" / "share")
    return Path(data_home) / "kubeplay"


def default_runroot() -> Path:
    if not is_rootless():
        return Path(ROOT_RUN_ROOT)
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isdir(runtime_dir) and os.access(runtime_dir, os.W_OK):
        return Path(runtime_dir) / "kubeplay"
    return Path(f"/tmp/kubeplay-{user_id()}")


def config_dirs() -> list[Path]:
    """Configuration directories in rising precedence, as podman reads them."""
    dirs = [Path("/usr/share/containers"), Path("/etc/containers")]
    if is_rootless():
        config_home = os.environ.get("XDG_CONFIG_HOME") or str(home_dir() / ".config")
        dirs.append(Path(config_home) / "containers")
    return dirs


def read_toml_layers(name: str, keys: tuple[str, ...] = ()) -> list[tuple[Path, dict]]:
    """Each existing `name` and its `name.d/*.conf` drop-ins, lowest precedence first.

    With `keys`, a file none of whose uncommented lines mentions one of them is left out unparsed:
    the distro's containers.conf is ~700 lines of comments, and a play that finds nothing for it
    there need not load the TOML parser."""
    layers: list[tuple[Path, dict]] = []
    for directory in config_dirs():
        candidates = [directory / name]
        dropins = directory / f"{name}.d"
        if dropins.is_dir():
            candidates += sorted(dropins.glob("*.conf"))
        for path in candidates:
            try:
                text = path.read_text()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
            except OSError as exc:
                raise UserError(f"{path}: cannot be read: {exc}", hint=f"fix its permissions or remove {path}") from exc
            if keys and not _mentions(text, keys):
                continue
            layers.append((path, _parse_toml(path, text)))
    return layers


def _mentions(text: str, keys: tuple[str, ...]) -> bool:
    """Whether an uncommented line assigns one of `keys` (bare, quoted or dotted: engine.runtime)."""
    for line in text.splitlines():
        name, equals, _ = line.partition("=")
        name = name.strip()
        if equals and not name.startswith("#") and name.split(".")[-1].strip().strip("\"'") in keys:
            return True
    return False


def _parse_toml(path: Path, text: str) -> dict:
    import tomllib  # here, not at the top: most commands read no configuration file

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: cannot be read as TOML: {exc}", hint=f"fix or remove {path}") from exc


# podman's default pids limit per container: a fork bomb in one container cannot take the host's pids
DEFAULT_PIDS_LIMIT = 2048
# the kubelet's default containerLogMaxSize: a container's log is cut back once it grows past this
DEFAULT_LOG_SIZE_MAX = 10 << 20
# the kubelet's default containerLogMaxFiles: the file being written and the newest rotated ones
DEFAULT_LOG_MAX_FILES = 5
# podman's variable naming one more containers.conf, read after all the others
CONTAINERS_CONF_OVERRIDE_ENV = "CONTAINERS_CONF_OVERRIDE"


@dataclass(frozen=True)
class ContainersConf:
    """The few containers.conf settings kubeplay honours. `pids_limit` and `log_size_max` of 0 or
    less mean no limit, as in podman; unset, they are 2048 and 10 MiB. `log_max_files` (kubeplay's
    own key, the kubelet's containerLogMaxFiles) is how many files of a container's log are kept,
    5 unless set; 1 keeps only the file being written."""

    runtime: str | None = None
    default_ulimits: tuple[str, ...] = ()
    conmon_path: str | None = None
    pids_limit: int = DEFAULT_PIDS_LIMIT
    log_size_max: int = DEFAULT_LOG_SIZE_MAX
    log_max_files: int = DEFAULT_LOG_MAX_FILES

    @classmethod
    def load(cls) -> ContainersConf:
        runtime = None
        ulimits: tuple[str, ...] = ()
        conmon = None
        limits = {"pids_limit": DEFAULT_PIDS_LIMIT, "log_size_max": DEFAULT_LOG_SIZE_MAX,
                  "log_max_files": DEFAULT_LOG_MAX_FILES}
        keys = ("runtime", "conmon_path", "default_ulimits", *limits)
        for path, data in read_toml_layers("containers.conf", keys=keys) + _override_layer():
            engine = data.get("engine", {})
            runtime = engine.get("runtime", runtime)
            paths = engine.get("conmon_path")
            if paths:
                conmon = next((p for p in paths if os.access(p, os.X_OK)), conmon)
            containers = data.get("containers", {})
            ulimits = tuple(containers.get("default_ulimits", ulimits))
            for key in limits:
                if key in containers:
                    limits[key] = _integer(path, f"containers.{key}", containers[key])
        return cls(runtime=runtime, default_ulimits=ulimits, conmon_path=conmon, **limits)


@functools.cache
def containers_conf() -> ContainersConf:
    """containers.conf as this process first read it: every container of a play is made from it."""
    return ContainersConf.load()


def _override_layer() -> list[tuple[Path, dict]]:
    """The file CONTAINERS_CONF_OVERRIDE names, if any: read last, so its settings win."""
    name = os.environ.get(CONTAINERS_CONF_OVERRIDE_ENV)
    if not name:
        return []
    path = Path(name)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"{path} (from {CONTAINERS_CONF_OVERRIDE_ENV}): cannot be read: {exc.strerror}",
                        hint=f"fix the file or unset {CONTAINERS_CONF_OVERRIDE_ENV}") from exc
    return [(path, _parse_toml(path, text))]


def _integer(path: Path, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{path}: {key} must be a whole number, not {value!r}",
                        hint=f"fix {key} in {path} (0 or less: no limit)")
    return value


@dataclass(frozen=True)
class Settings:
    """Global options, resolved once by the CLI and handed down."""

    root: Path = field(default_factory=default_root)
    runroot: Path = field(default_factory=default_runroot)
    runtime: str | None = None
    log_level: str = "warning"
    debug: bool = False

    @property
    def rootless(self) -> bool:
        return is_rootless()

    @property
    def db_path(self) -> Path:
        return self.root / DATABASE_NAME

    def ensure_dirs(self) -> None:
        """Create the graph root and the run root; a run root in /tmp must be ours and private."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.runroot.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise HostError(
                f"cannot create kubeplay's directories: {exc}",
                hint="choose writable locations with --root and --runroot",
            ) from exc
        if self.rootless:
            info = self.runroot.stat()
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                raise HostError(
                    f"run root {self.runroot} is not private to uid {os.getuid()}",
                    hint=f"remove {self.runroot} or pass --runroot to a directory you own with mode 0700",
                )


CATATONIT_PATHS = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/libexec/catatonit/catatonit")


def find_catatonit(purpose: str) -> str:
    """catatonit, the tiny init kubeplay uses as the infra container's and the pause process's PID 1."""
    for path in CATATONIT_PATHS:
        if os.access(path, os.X_OK):
            return path
    import shutil

    found = shutil.which("catatonit")
    if found:
        return found
    raise HostError(f"catatonit is not installed: {purpose} needs it",
                    hint="apt-get install catatonit (Fedora: dnf install catatonit)")

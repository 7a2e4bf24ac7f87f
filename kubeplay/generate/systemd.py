"""systemd units that run Kubernetes YAML: one for a given file (`kubeplay generate systemd FILE`),
or the template `kubeplay-kube@.service`, whose instance is the file's path escaped by
`systemd-escape` (as podman's `podman-kube@.service`).

The unit is Type=notify and its main process is `kubeplay play --service`: it plays the file, sends
READY=1 once every pod is ready (so `systemctl start` returns then), and stays as the process
systemd watches. kubeplay has no daemon and each container's conmon is its own supervisor, so
there is no other process that could stand for the whole app: a staying `play` is the one
process whose life is the app's, it relays the notifications of containers that speak sd_notify,
and on SIGTERM it takes its pods down. ExecStop runs `kubeplay down FILE` first, so a stop is
orderly even when that process is gone. A container that exits is restarted by its restartPolicy
(conmon calls kubeplay back), not by systemd: Restart=on-failure covers kubeplay failing itself.

Pure: text from the paths and options given.
"""

from __future__ import annotations

from dataclasses import dataclass

TEMPLATE_NAME = "kubeplay-kube@.service"
# pulls of large images can take long; the readiness wait has its own --timeout inside it
START_TIMEOUT = "30min"
READY_TIMEOUT = "15m"
STOP_TIMEOUT = "5min"  # every pod's grace period is waited out by `down`


@dataclass(frozen=True)
class UnitOptions:
    """What the unit runs: kubeplay's absolute path and the global options the command line had."""

    kubeplay: str
    global_args: tuple[str, ...] = ()
    rootless: bool = False


def quote_arg(arg: str) -> str:
    """One argument of an Exec= line: `%` and `$` would be expanded by systemd, whitespace splits."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if any(c.isspace() for c in text) or '"' in text or "\\" in text or not text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _command(options: UnitOptions, *args: str, raw_tail: str = "") -> str:
    words = [quote_arg(word) for word in (options.kubeplay, *options.global_args, *args)]
    return " ".join(words + ([raw_tail] if raw_tail else []))


def _unit_text(description: str, options: UnitOptions, file_arg: str, raw: bool) -> str:
    """raw: `file_arg` is a specifier (%I) written as it is, not a path to quote."""

    def command(*args: str) -> str:
        if raw:
            return _command(options, *args, raw_tail=f'"{file_arg}"')
        return _command(options, *args, file_arg)

    target = "default.target" if options.rootless else "multi-user.target"
    return "\n".join([
        "[Unit]",
        f"Description={description}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        # `down` (ExecStop) says STOPPING=1 and the containers' own notifications are relayed:
        # neither comes from the main process
        "NotifyAccess=all",
        f"ExecStart={command('play', '--replace', '--service', '--timeout', READY_TIMEOUT)}",
        f"ExecStop={command('down')}",
        # after a start that failed half-way, nothing of it stays ("-": a failure here is no failure)
        f"ExecStopPost=-{command('down', '--quiet')}",
        "Restart=on-failure",
        "RestartSec=5",
        f"TimeoutStartSec={START_TIMEOUT}",
        f"TimeoutStopSec={STOP_TIMEOUT}",
        # SIGTERM to the main process alone: it takes the pods down in order; the rest only at the end
        "KillMode=mixed",
        "",
        "[Install]",
        f"WantedBy={target}",
        "",
    ])


def unit_for_file(path: str, options: UnitOptions) -> str:
    """A unit running the YAML file at `path` (absolute)."""
    head = f"# Runs the pods of {path} with kubeplay. Install as /etc/systemd/system/NAME.service.\n"
    return head + _unit_text(f"kubeplay: the pods of {path}", options, path, raw=False)


def template_unit(options: UnitOptions) -> str:
    """kubeplay-kube@.service: `systemctl start kubeplay-kube@$(systemd-escape /srv/app.yaml).service`."""
    head = ("# kubeplay-kube@.service: the instance is a YAML file's absolute path, escaped:\n"
            "#   systemctl start kubeplay-kube@$(systemd-escape /srv/app.yaml).service\n")
    return head + _unit_text("kubeplay: the pods of %I", options, "%I", raw=True)


def unit_name_for(path: str) -> str:
    """The instance unit name of the template for `path`, as `systemd-escape --template` writes it."""
    return TEMPLATE_NAME.replace("@.", f"@{escape_path(path)}.")


def escape_path(path: str) -> str:
    """systemd-escape --path: "/" becomes "-", other unsafe bytes \\xNN; leading/trailing "/" dropped."""
    trimmed = path.strip("/") or "/"
    if trimmed == "/":
        return "-"
    out = []
    for index, byte in enumerate(trimmed.encode()):
        char = chr(byte)
        if char == "/":
            out.append("-")
        elif char.isascii() and (char.isalnum() or char in ":_" or (char == "." and index > 0)):
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)

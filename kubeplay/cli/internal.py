"""Commands conmon and kubeplay call back; not for users.

Every exiting container makes conmon run its exit command, so with many pods these calls compete
with the command that stopped them. conmon therefore runs this module directly
(`python -m kubeplay.cli.internal --root R --runroot RR [--runtime X] container-exited ID`, see
`exit_callback_argv`): `main` reads that fixed argv itself and loads only the store and the restart
logic, no click and no other command, a fraction of what the full CLI loads. The same commands also exist
as hidden click commands of the CLI, built on first use through the module `__getattr__`.
"""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = "usage: python -m kubeplay.cli.internal --root DIR --runroot DIR [--runtime R] VERB CONTAINER_ID"
VERBS = ("container-exited", "container-restart")


def run_verb(settings, verb: str, container_id: str) -> None:
    from kubeplay.pods.engine import Engine

    from kubeplay.controllers.endpoints import container_changed

    engine = Engine(settings)
    if verb == "container-exited":
        from kubeplay.pods.restarts import container_exited as record_exit

        record_exit(engine, container_id)
        from kubeplay.controllers.launch import start_job_monitors

        start_job_monitors(engine, container_id)  # a Job's next pods, started just now, are probed from the start
    else:
        from kubeplay.pods.restarts import restart_container

        restart_container(engine, container_id)
    container_changed(engine, container_id)  # the Services selecting its pod follow it


def parse_argv(argv: list[str]) -> tuple[dict[str, str], str, str]:
    """(options, verb, container id) of the fixed argv this module is called with; ValueError if not."""
    options: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] in ("--root", "--runroot", "--runtime"):
        if len(rest) < 2:
            raise ValueError(f"{rest[0]} needs a value")
        options[rest[0][2:]] = rest[1]
        rest = rest[2:]
    if len(rest) != 2 or rest[0] not in VERBS:
        raise ValueError(f"unexpected arguments {rest!r}")
    if "root" not in options or "runroot" not in options:
        raise ValueError("--root and --runroot are required")
    return options, rest[0], rest[1]


def being_removed(runroot: str, container_id: str) -> bool:
    """Whether the container's pod is being removed (its bundle is marked, or gone already): its
    exit has nothing to record or restart. Told from files alone, before anything is imported, so
    the hundreds of callbacks a big pod's removal sets off each end at once."""
    import os

    from kubeplay.defaults import REMOVING_MARK

    bundle = os.path.join(runroot, "containers", container_id)
    return not os.path.isdir(bundle) or os.path.exists(os.path.join(bundle, REMOVING_MARK))


def main(argv: list[str] | None = None) -> int:
    try:
        options, verb, container_id = parse_argv(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"error: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    if verb == "container-exited" and being_removed(options["runroot"], container_id):
        return 0
    from kubeplay.config import Settings
    from kubeplay.errors import KubeplayError

    settings = Settings(root=Path(options["root"]).absolute(), runroot=Path(options["runroot"]).absolute(),
                        runtime=options.get("runtime"))
    try:
        run_verb(settings, verb, container_id)
    except KubeplayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


def _click_commands() -> dict:
    import click

    @click.command("container-exited", hidden=True)
    @click.argument("container_id")
    @click.pass_obj
    def container_exited(settings, container_id: str) -> None:
        """Record a container's exit and apply its restart policy (conmon's --exit-command)."""
        run_verb(settings, "container-exited", container_id)

    @click.command("container-restart", hidden=True)
    @click.argument("container_id")
    @click.pass_obj
    def container_restart(settings, container_id: str) -> None:
        """Wait out a container's restart back-off, then start it again."""
        run_verb(settings, "container-restart", container_id)

    return {"container_exited": container_exited, "container_restart": container_restart}


_COMMANDS: dict = {}


def __getattr__(name: str):
    if name in ("container_exited", "container_restart"):
        if not _COMMANDS:
            _COMMANDS.update(_click_commands())
        return _COMMANDS[name]
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())

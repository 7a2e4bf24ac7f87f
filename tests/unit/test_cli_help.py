"""Every option of every command says what it does, and the environment variables show in --help."""

from __future__ import annotations

import click
from click.testing import CliRunner

from kubeplay.cli.lazy import cli


def walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from walk(sub, path + (name,))


def test_every_option_has_help_text():
    missing = [f"kubeplay {' '.join(path)} {'/'.join(param.opts)}"
               for path, command in walk(cli) if not command.hidden
               for param in command.params
               if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()
               and "--help" not in param.opts and "--version" not in param.opts]
    assert not missing, "options without help text:\n" + "\n".join(missing)


def test_every_command_is_walked():
    names = {" ".join(path) for path, _ in walk(cli)}
    assert {"get", "describe", "completion", "version", "pods", "pod rm", "jobs ls"} <= names


def test_global_help_names_the_environment_variables():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for variable in ("KUBEPLAY_ROOT", "KUBEPLAY_RUNROOT", "KUBEPLAY_RUNTIME", "KUBEPLAY_LOG_LEVEL", "KUBEPLAY_DEBUG"):
        assert variable in result.output, variable

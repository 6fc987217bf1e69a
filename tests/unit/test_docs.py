"""docs/commands.md is every visible command's --help; regenerate it with `.venv/bin/python -m tests.unit.test_docs`."""

from pathlib import Path

import click

from ponton import cli

REFERENCE = Path(__file__).parents[2] / "docs" / "commands.md"
INTRO = """# Command reference

Every command runs as `ponton COMMAND ...` on the server (as root) or as `ssh ponton@HOST COMMAND ...` with a
key added by `ssh-keys:add` (what a user may run is in [users.md](users.md)). Listings take `--format json`;
errors are one line on stderr and a non-zero exit: 1 general, 2 invalid input, 3 not found, 4 deploy failed,
5 proxy refused the change, 6 build failed, 7 access denied. This page is the `--help` of each command.
"""


def render() -> str:
    cli._register_builtin_commands()
    cli._load_plugin_commands(cli.cli)  # the plugins' commands (postgres:*, redis:*) are commands as well
    sections, topic = [INTRO], None
    # Each command's help as `ponton COMMAND --help` prints it: in the context of the group, whose settings (-h)
    # it inherits; click keeps a command's help option once made, so any other context would depend on test order.
    group = click.Context(cli.cli, info_name="ponton", **cli.cli.context_settings)
    for name, command in sorted(cli.cli.commands.items()):
        if command.hidden:
            continue
        if name.split(":")[0] != topic:
            topic = name.split(":")[0]
            sections.append(f"## {topic}\n")
        help_text = command.get_help(click.Context(command, info_name=name, parent=group))
        sections.append(f"### {name}\n\n```\n{help_text}\n```\n")
    return "\n".join(sections)


def test_the_reference_is_every_commands_help():
    assert REFERENCE.read_text() == render(), "docs/commands.md is stale: python -m tests.unit.test_docs"


if __name__ == "__main__":
    REFERENCE.write_text(render())

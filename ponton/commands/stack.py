"""stack:build: the stack images app builds start from (builder/stacks.py, docs/builder.md)."""

import click

from builder import stacks
from builder.languages import by_name, stack_languages
from ponton.core.errors import InvalidInput
from ponton.output import pass_ponton


@click.command("stack:build")
@click.argument("languages", nargs=-1, metavar="[LANGUAGE...]")
@pass_ponton
def build(p, languages):
    """(Re)build the stack image of each LANGUAGE (python, node, go, ruby, php, static; default: all), building
    the base image first if it is missing. Run it after changing base_image; app builds then start from it."""
    known = stack_languages()
    unknown = [name for name in languages if name not in known]
    if unknown:
        raise InvalidInput(f"no stack for {', '.join(unknown)} (stacks: {', '.join(known)})")
    for name in languages or known:
        stacks.build(p.settings, by_name(name), click.echo)


COMMANDS = [build]

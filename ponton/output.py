"""Printing listings as text or JSON (`--format json`), and the arguments and decorators commands share."""

import datetime
import json

import click

from ponton import validate
from ponton.context import Ponton

format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)


def emit(fmt: str, data, text: str):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if fmt == "json" else text.rstrip("\n"))


def when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(rows: list[list], headers: list[str]) -> str:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(x) for x in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [headers, *rows])


def app_argument(name: str = "app"):
    """An APP argument, checked against the naming rule (a bad name is one clear error line)."""
    return click.argument(name, metavar=name.upper(), callback=lambda ctx, param, value: validate.app_name(value))


def pass_ponton(f):
    """Give the command a Ponton built from the server settings."""
    return click.make_pass_decorator(Ponton, ensure=True)(f)

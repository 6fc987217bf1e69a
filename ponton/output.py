"""Printing listings as text or JSON (`--format json`), and the arguments and decorators commands share."""

import datetime
import json

import click

from ponton.core import validate
from ponton.core.context import Ponton

format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)


def one_line(text: str) -> str:
    """`text` fit for one line of output: line breaks (unicode ones too), control characters and lone surrogates
    escaped as Python writes them, so that no input can add a line or move the cursor."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def emit(fmt: str, data, text: str):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if fmt == "json" else text.rstrip("\n"))


def when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(rows: list[list], headers: list[str]) -> str:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(x) for x in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [headers, *rows])


class WholeNumber(click.IntRange):
    """An option's whole number from LOW to HIGH, checked as every number a user types is (validate.bounded)."""

    def __init__(self, low: int, high: int):
        super().__init__(low, high)

    def convert(self, value, param, ctx):
        if isinstance(value, int):  # a default
            return value
        number = validate.bounded(value, self.min, self.max)
        if number is None:
            self.fail(f"{validate.shown(value)} is not a whole number from {self.min} to {self.max}", param, ctx)
        return number


class Number(click.FloatRange):
    """An option's number (decimals allowed) from LOW to HIGH, checked as every number a user types is."""

    def __init__(self, low: float, high: float):
        super().__init__(low, high)

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):  # a default
            return float(value)
        number = validate.bounded(value, self.min, self.max, whole=False)
        if number is None:
            self.fail(f"{validate.shown(value)} is not a number from {self.min:g} to {self.max:g}", param, ctx)
        return number


def app_argument(name: str = "app"):
    """An APP argument, checked against the naming rule (a bad name is one clear error line)."""
    return click.argument(name, metavar=name.upper(), callback=lambda ctx, param, value: validate.app_name(value))


def pass_ponton(f):
    """Give the command a Ponton built from the server settings."""
    return click.make_pass_decorator(Ponton, ensure=True)(f)

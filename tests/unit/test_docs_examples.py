"""The command lines in docs/users.md, docs/metrics.md, docs/services.md and docs/autoscaling.md name real commands with options they
accept; the app.json in docs/autoscaling.md works as written."""

import re
import shlex
from pathlib import Path

import click
import pytest

from ponton import cli
from ponton.features import appfiles
from ponton.features.autoscale import Policy

DOCS = Path(__file__).parents[2] / "docs"
BLOCK = re.compile(r"```(?:sh|console)\n(.*?)```", re.S)


def examples(page: str) -> list[str]:
    lines = []
    for block in BLOCK.findall((DOCS / page).read_text()):
        for line in block.splitlines():
            line = line.removeprefix("$ ").split(" #")[0].split(" < ")[0].strip()
            for prefix in ("ponton ", "ssh ponton@HOST "):
                if line.startswith(prefix):
                    lines.append(line[len(prefix):])
    return lines


@pytest.mark.parametrize("page", ["users.md", "metrics.md", "services.md", "autoscaling.md"])
def test_every_example_parses(page):
    cli._register_builtin_commands()
    cli._load_plugin_commands(cli.cli)  # postgres:*, redis:*
    found = examples(page)
    assert found
    for line in found:
        name, *args = shlex.split(line)
        command = cli.cli.commands.get(name)
        assert command is not None, f"{page}: unknown command in {line!r}"
        try:
            command.make_context(name, args, resilient_parsing=False)
        except click.UsageError as e:
            raise AssertionError(f"{page}: {line!r}: {e}") from None


def test_the_app_json_of_autoscaling_md_works_as_written():
    page = (DOCS / "autoscaling.md").read_text()
    [app_json] = re.findall(r"```json\n(.*?)```", page, re.S)
    parsed = appfiles.parse_app_json(app_json)
    assert parsed["autoscaling"] == {"web": Policy(minimum=1, maximum=10, rps=50, cpu=50, cooldown=120, interval=30)}
    [warning] = parsed["warnings"]
    assert f"remote:  !     {warning}" in page  # what the page says the push shows

"""releases, rollback."""

import click

from ponton.core import validate
from ponton.core.errors import InvalidInput
from ponton.output import app_argument, emit, format_option, pass_ponton, table, when
from ponton.pipeline import deploy

MAX_VERSION = 10**9


@click.command("releases")
@app_argument()
@format_option
@pass_ponton
def releases(p, app, fmt):
    """List APP's releases, newest first: version, source, created, status."""
    current = p.state.current_release(app)
    rows = [
        {
            "version": r.label,
            "source": r.source,
            "description": r.description,
            "created": when(r.created),
            "status": "current" if current and r.version == current.version else r.status,
        }
        for r in reversed(p.state.releases(app))
    ]
    emit(fmt, rows, table([list(r.values()) for r in rows], list(rows[0])) if rows else f"{app} has no releases")


@click.command("rollback")
@app_argument()
@click.argument("version", required=False)
@pass_ponton
def rollback(p, app, version):
    """Roll APP back to VERSION (e.g. v3; default: the release before the current one), code and config."""
    number = None if version is None else parse_version(version)
    with p.locked(app):
        deploy.rollback(p, app, number)


def parse_version(version: str) -> int:
    number = validate.bounded(version.removeprefix("v"), 0, MAX_VERSION)
    if number is None:
        raise InvalidInput(f"invalid version {validate.shown(version)}: use a release number like v3 or 3")
    return number


COMMANDS = [releases, rollback]

"""logs: what the app's instances print (or its nginx access log); releases:logs: what a build printed."""

import datetime
import time

import click

from ponton.commands.releases import parse_version
from ponton.core import validate
from ponton.core.errors import InvalidInput, NotFound
from ponton.features import accesslog
from ponton.output import WholeNumber, app_argument, pass_ponton
from runtime import logs as app_logs

MAX_AGE = 100 * 365 * 86400  # --since as an age: longer ago than any container ran


def _since(value: str | None) -> int | None:
    """`--since` as a Unix time: an age like 90s, 15m, 2h, 1d, or an ISO time like 2026-11-28T10:00 (UTC
    unless it says otherwise)."""
    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    age = validate.bounded(value[:-1], 0, MAX_AGE // units[value[-1]]) if value[-1:] in units else None
    if age is not None:
        return int(time.time()) - age * units[value[-1]]
    try:
        when = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"invalid --since {validate.shown(value)}: use an age like 15m or 2h (at most "
                           f"{MAX_AGE // 86400} days), or a time like 2026-11-28T10:00") from None
    return max(0, int((when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)).timestamp()))


@click.command("logs")
@app_argument()
@click.option("-t", "--tail", "follow", is_flag=True, help="Keep printing new lines, across deploys (Ctrl-C ends).")
@click.option("-n", "--num", type=WholeNumber(0, 100_000), default=100, show_default=True,
              help="How many recent lines to print first.")
@click.option("--ps", "process", metavar="TYPE", help="Only instances of this process type, e.g. worker.")
@click.option("--since", metavar="T", help="Only lines since T: an age (15m, 2h, 1d) or an ISO time.")
@click.option("--proxy", is_flag=True, help="Show the app's nginx access log (one JSON object per request).")
@pass_ponton
def logs(p, app, follow, num, process, since, proxy):
    """Print the output of APP's instances, merged in time order, each line prefixed with its instance."""
    p.state.app_id(app)
    if proxy and (since or process):
        raise InvalidInput("--since and --ps apply to the app's output, not to --proxy")
    if proxy:
        path = accesslog.path(p.settings, app)
        lines, stream = app_logs.tail_file(path, num), (app_logs.follow_file(path) if follow else ())
    else:
        lines = app_logs.recent(p.scheduler, app, num, process, _since(since))
        stream = app_logs.follow(p.scheduler, app, process) if follow else ()
    for line in lines:
        click.echo(line)
    for line in stream:
        click.echo(line)


@click.command("releases:logs")
@app_argument()
@click.argument("version")
@pass_ponton
def release_logs(p, app, version):
    """Print the build output of release VERSION of APP (e.g. v3)."""
    release = p.state.release(app, parse_version(version))
    if not release.build_log:
        raise NotFound(f"{release.label} of {app} was not built by ponton ({release.source})")
    click.echo(release.build_log)


COMMANDS = [logs, release_logs]

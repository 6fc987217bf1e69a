"""events: what happened to an app (deploys, config, scale, restarts, health failures) and who did it."""

import click

from ponton.output import WholeNumber, app_argument, emit, format_option, pass_ponton, table, when


@click.command("events")
@app_argument()
@click.option("-n", "--num", type=WholeNumber(1, 10_000), default=50, show_default=True, help="How many.")
@format_option
@pass_ponton
def events(p, app, num, fmt):
    """List APP's latest events, oldest first: when, who, what."""
    rows = [
        {
            "time": when(event.time),
            "user": event.user,
            "kind": event.kind,
            "message": event.message,
        }
        for event in p.state.events(app, num)
    ]
    emit(fmt, rows, table([list(r.values()) for r in rows], ["time", "user", "kind", "message"]) if rows else "no events")


COMMANDS = [events]

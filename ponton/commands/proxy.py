"""proxy:set, proxy:report: how nginx serves an app (HTTPS redirect, HSTS)."""

import click

from ponton.core.undo import undone_on_failure
from ponton.features import proxysettings
from ponton.output import app_argument, emit, format_option, pass_ponton, table
from ponton.pipeline import routing


def _knob_help() -> str:
    return "\n".join(f"{key:<16} {text} ({default})" for key, (_, default, text) in proxysettings.KNOBS.items())


@click.command("proxy:set", help=f"""Set a proxy KEY of APP (no VALUE: back to the default).

\b
{_knob_help()}
""")
@app_argument()
@click.argument("key", metavar="KEY")
@click.argument("value", required=False)
@pass_ponton
def set_(p, app, key, value):
    proxysettings.check(key, value)
    with p.locked(app):
        previous = p.state.proxy_settings(app).get(key)
        p.state.set_proxy_setting(app, key, value)
        with undone_on_failure(lambda: p.state.set_proxy_setting(app, key, previous)):
            routing.reroute(p, app)
        p.event(app, "proxy-settings", f"{key}={value if value is not None else '(default)'}")
    click.echo(f"-----> {app}: {key} = {value if value is not None else '(default)'}")


@click.command("proxy:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """Show APP's proxy settings."""
    data = proxysettings.knobs(p.state.proxy_settings(app))
    emit(fmt, data, table([[k, str(v).lower()] for k, v in data.items()], ["setting", "value"]))


COMMANDS = [set_, report]

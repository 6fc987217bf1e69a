"""config:set, config:unset, config:get, config:show. A change rolls the app onto new containers."""

import click

from ponton.core import validate
from ponton.core.errors import NotFound
from ponton.core.undo import undone_on_failure
from ponton.output import app_argument, emit, format_option, pass_ponton, table
from ponton.pipeline import deploy

no_restart_option = click.option(
    "--no-restart", is_flag=True, help="Only record the change; running instances get it on the next deploy."
)


def change(p, app, config: dict[str, str], description: str, no_restart: bool = False):
    """Record the new config and roll it out; if the rollout fails, the previous config is put back."""
    previous = p.state.config(app)
    if config == previous:
        click.echo("-----> Config unchanged")
        return
    p.state.replace_config(app, config)
    if no_restart:
        p.event(app, "config", f"{description} (no restart)")
        click.echo("-----> Config saved; running instances keep the old values until the next deploy")
        return
    with undone_on_failure(lambda: p.state.replace_config(app, previous)):
        if deploy.redeploy(p, app, description) is None:
            click.echo("-----> Config saved; it applies from the first deploy")
    p.event(app, "config", description)


@click.command("config:set")
@app_argument()
@click.argument("pairs", metavar="KEY=VALUE...", nargs=-1, required=True)
@click.option("--encoded", is_flag=True, help="Each VALUE is base64 (as Dokku's --encoded), decoded before it is set.")
@no_restart_option
@pass_ponton
def set_(p, app, pairs, encoded, no_restart):
    """Set environment variables of APP. Values may hold any text, newlines included."""
    changes = validate.config_pairs(pairs, encoded)
    with p.locked(app):
        config = {**p.state.config(app), **changes}
        change(p, app, config, f"Set {', '.join(changes)}", no_restart)


@click.command("config:unset")
@app_argument()
@click.argument("keys", metavar="KEY...", nargs=-1, required=True)
@no_restart_option
@pass_ponton
def unset(p, app, keys, no_restart):
    """Remove environment variables of APP."""
    keys = [validate.config_key(key) for key in keys]
    with p.locked(app):
        config = p.state.config(app)
        missing = [key for key in keys if key not in config]
        if missing:
            raise NotFound(f"app {app} has no config {', '.join(missing)}")
        remaining = {k: v for k, v in config.items() if k not in keys}
        change(p, app, remaining, f"Unset {', '.join(keys)}", no_restart)


@click.command("config:get")
@app_argument()
@click.argument("key")
@pass_ponton
def get(p, app, key):
    """Print the value of KEY, exactly as stored."""
    config = p.state.config(app)
    if validate.config_key(key) not in config:
        raise NotFound(f"app {app} has no config {key}")
    click.echo(config[key])


@click.command("config:show")
@app_argument()
@format_option
@pass_ponton
def show(p, app, fmt):
    """Show every environment variable of APP."""
    config = p.state.config(app)
    emit(fmt, config, table([[k, v] for k, v in config.items()], ["key", "value"]) if config else "no config set")


COMMANDS = [set_, unset, get, show]

"""deploy:set, deploy:report, deploy:promote, deploy:abort: how releases roll out."""

import dataclasses
import time

import click

from ponton.features import strategy
from ponton.output import app_argument, emit, format_option, pass_ponton, table, when
from ponton.pipeline import deploy


@click.command("deploy:set")
@app_argument()
@click.argument("key", metavar="KEY")
@click.argument("value", required=False)
@pass_ponton
def set_(p, app, key, value):
    """Set a deploy KEY of APP (no VALUE: back to the default).

    \b
    strategy         rolling (default) | blue-green | canary | recreate
    batch            rolling: instances replaced at a time (1)
    wait-to-retire   seconds a replaced instance keeps running, out of the routing, before it stops (0);
                     blue-green: the window in which a rollback switches back instantly
    canary-weight    canary: percent of requests for the new release (20)
    canary-steps     canary: rising percents it goes through instead, e.g. 10,25,50 (none)
    canary-duration  canary: seconds each step lasts; after the last the watchdog promotes it
                     (0: the first step until deploy:promote)
    """
    strategy.check(key, value)
    with p.locked(app):
        p.state.set_deploy_setting(app, key, value)
        p.event(app, "deploy-settings", f"{key}={value if value is not None else '(default)'}")
    if key == "strategy" and value == "recreate":
        click.echo("-----> Note: recreate stops every instance before starting new ones: deploys cause downtime")
    click.echo(f"-----> {app}: {key} = {value if value is not None else '(default)'}")


@click.command("deploy:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """Show APP's deploy strategy, its knobs, and a canary or standby in progress."""
    record = p.state.app(app)
    strategy = deploy.strategy_of(p, app)
    data = {k.replace("_", "-"): v for k, v in dataclasses.asdict(strategy).items()}
    data["strategy"] = data.pop("name")
    data["canary-steps"] = ",".join(map(str, strategy.canary_steps)) or None
    data["canary"] = f"v{record.canary_version}" if record.canary_version else None
    data["canary-share"] = strategy.canary_share(record.canary_until, time.time()) if record.canary_version else None
    data["canary-promotes-at"] = when(record.canary_until) if record.canary_until else None
    data["standby"] = f"v{record.standby_version}" if record.standby_version else None
    data["standby-until"] = when(record.standby_until) if record.standby_until else None
    emit(fmt, data, table([[k, "-" if v is None else v] for k, v in data.items()], ["setting", "value"]))


@click.command("deploy:promote")
@app_argument()
@pass_ponton
def promote(p, app):
    """Send every request to APP's canary release and retire the old instances."""
    with p.locked(app):
        deploy.promote(p, app)


@click.command("deploy:abort")
@app_argument()
@pass_ponton
def abort(p, app):
    """Send every request back to APP's current release and remove the canary's instances."""
    with p.locked(app):
        deploy.abort(p, app)
    click.echo(f"-----> Canary of {app} aborted")


COMMANDS = [set_, report, promote, abort]

"""ps:autoscale, ps:autoscale:report: a process's instances follow its load, within bounds (the watchdog decides,
pipeline/autoscaler.py; the rules are features/autoscale.py's)."""

import dataclasses

import click

from ponton.core import validate
from ponton.core.errors import InvalidInput, NotFound
from ponton.features import autoscale
from ponton.output import Number, WholeNumber, app_argument, emit, format_option, pass_ponton, table, when


@click.command("ps:autoscale")
@app_argument()
@click.argument("process")
@click.option("--min", "minimum", type=WholeNumber(0, autoscale.MAX_INSTANCES), help="Fewest instances.")
@click.option("--max", "maximum", type=WholeNumber(0, autoscale.MAX_INSTANCES), help="Most instances.")
@click.option("--rps", type=Number(0, 1e6), help="Target requests/s per instance.")
@click.option("--cpu", type=Number(0, 1e6), help="Target CPU per instance, in percent of one core.")
@click.option("--latency-p90", "latency_p90", type=Number(0, 1e6), help="Target p90 latency, in milliseconds.")
@click.option("--cooldown", type=Number(0, 86400), default=autoscale.DEFAULT_COOLDOWN, show_default=True,
              help="Seconds after a change before an instance may be removed.")
@click.option("--off", is_flag=True, help="Stop autoscaling PROCESS (its count stays as it is).")
@pass_ponton
def set_autoscale(p, app, process, minimum, maximum, rps, cpu, latency_p90, cooldown, off):
    """Let the watchdog scale PROCESS of APP between --min and --max to keep each instance near its targets:
    up at once when a target is exceeded, down one at a time after the cooldown.
    E.g. `ps:autoscale APP web --min 1 --max 4 --rps 20`."""
    process = validate.process_type(process)
    with p.locked(app):
        p.state.app_id(app)
        if off:
            if not any(a.process == process for a in p.state.autoscale_policies(app)):
                raise NotFound(f"{app} {process} is not autoscaled")
            p.state.set_autoscale(app, process, None)
            p.event(app, "autoscale", f"{process}: off")
            click.echo(f"-----> {app} {process}: autoscaling off, {p.state.formation(app).get(process, 0)} instances")
            return
        if minimum is None or maximum is None:
            raise InvalidInput("give --min and --max (or --off)")
        policy = autoscale.checked(autoscale.Policy(minimum, maximum, rps, cpu, latency_p90, cooldown))
        p.state.set_autoscale(app, process, dataclasses.asdict(policy))
        p.event(app, "autoscale", f"{process}: {policy.describe()}")
    click.echo(f"-----> {app} {process}: autoscaling {policy.describe()}")


@click.command("ps:autoscale:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """Show APP's autoscaled processes: targets, current and desired count, the last decision and why."""
    data = policies(p, app)
    text = policies_table(data) if data else \
        f"{app} has no autoscaled process: ponton ps:autoscale {app} web --min 1 --max 4 --rps 20"
    emit(fmt, data, text)


def policies(p, app: str) -> list[dict]:
    """APP's autoscaled processes as ps:autoscale:report and ps:report give them."""
    formation = p.state.formation(app)
    return [{"process": a.process, "min": a.minimum, "max": a.maximum, "rps": a.rps, "cpu": a.cpu,
             "latency_p90": a.latency_p90, "cooldown": a.cooldown,
             "interval": p.settings.autoscale_interval if a.interval is None else a.interval,
             "current": formation.get(a.process, 0),
             "desired": a.desired, "reason": a.reason or None,
             "decided": when(a.decided) if a.decided else None} for a in p.state.autoscale_policies(app)]


def policies_table(data: list[dict]) -> str:
    rows = [[d["process"], f"{d['min']}-{d['max']}", _targets(d), f"{d['interval']:g}s", d["current"],
             "-" if d["desired"] is None else d["desired"], d["reason"] or "no decision yet"] for d in data]
    return table(rows, ["process", "bounds", "targets", "every", "current", "desired", "last decision"])


def _targets(d: dict) -> str:
    units = {"rps": "req/s", "cpu": "% CPU", "latency_p90": "ms p90"}
    return ", ".join(f"{d[key]:g} {unit}" for key, unit in units.items() if d[key] is not None)


COMMANDS = [set_autoscale, report]

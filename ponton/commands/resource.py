"""resource:limit, resource:reserve, resource:report: memory and CPU of an app's containers."""

import click

from ponton.core import validate
from ponton.core.errors import InvalidInput
from ponton.core.undo import undone_on_failure
from ponton.features import resources
from ponton.output import app_argument, emit, format_option, pass_ponton, table
from ponton.pipeline import deploy


def _options(kind: str):
    """The options resource:limit and resource:reserve share."""
    def decorate(f):
        f = click.option("--clear", is_flag=True, help=f"Remove the {kind}s set here: the defaults apply again.")(f)
        f = click.option("--cpu", metavar="CORES", help="CPU in cores, like 0.5 or 2 (0: none).")(f)
        f = click.option("--memory", metavar="SIZE", help="Memory, like 256m or 1g (0: none).")(f)
        f = click.option("--process", "process", metavar="TYPE", default=resources.EVERY_TYPE,
                         help="Only this process type, e.g. worker (default: every type).")(f)
        return app_argument()(f)
    return decorate


@click.command("resource:limit")
@_options("limit")
@pass_ponton
def limit(p, app, process, memory, cpu, clear):
    """Cap the memory and CPU of APP's containers; the app rolls onto new containers.

    An instance that goes over its memory limit is killed and restarted, and ps:report says it ran out of memory.
    """
    _change(p, app, "limit", process, memory, cpu, clear)


@click.command("resource:reserve")
@_options("reservation")
@pass_ponton
def reserve(p, app, process, memory, cpu, clear):
    """Reserve memory and CPU for APP's containers when the server is busy; the app rolls onto new containers.

    Memory: the engine reclaims memory from other containers first. CPU: under contention, CPU time is shared in
    proportion to the cores reserved.
    """
    _change(p, app, "reserve", process, memory, cpu, clear)


def _change(p, app: str, kind: str, process: str, memory: str | None, cpu: str | None, clear: bool):
    if process and not validate.PROCESS_TYPE.fullmatch(process):
        raise InvalidInput(f"invalid process type {process!r}")
    if clear == (memory is not None or cpu is not None):
        raise InvalidInput("give --memory and/or --cpu, or --clear")
    given = {f"{kind}.memory": memory, f"{kind}.cpu": cpu}
    changes = {key: None if clear else resources.check(key, value)
               for key, value in given.items() if clear or value is not None}
    what = f"{app}{' ' + process if process else ''}"
    with p.locked(app):
        previous = p.state.resources(app)
        updated = resources.merge(previous, process, changes)
        if updated == previous:
            click.echo(f"-----> Resources of {what} unchanged")
            return
        p.state.replace_resources(app, updated)
        # through the rollout, as a config change: instances are replaced one at a time, health-checked
        with undone_on_failure(lambda: p.state.replace_resources(app, previous)):
            deployed = deploy.converge(p, app, replace=True) is not None
        described = " ".join(f"{key}={'default' if value is None else value}" for key, value in changes.items())
        p.event(app, "resources", f"{what}: {described}")
    click.echo(f"-----> Resources of {what}: {described}" + ("" if deployed else " (applies from the first deploy)"))


@click.command("resource:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """Show the limits and reservations each process type of APP gets, and where each comes from."""
    stored = p.state.resources(app)
    current = p.state.current_release(app)
    types = sorted(set(p.state.formation(app)) | set(current.processes if current else ()) | set(stored) - {""})
    server = resources.defaults(p.settings)
    rows = []
    for process in types:
        values = resources.effective(stored, server, process)
        rows.append({"process": process, **{key: values[key][0] if key in values else None for key in resources.KEYS},
                     "from": {key: source for key, (_, source) in values.items()}})
    text = table([[r["process"], *(_cell(r, key) for key in resources.KEYS)] for r in rows],
                 ["process", "memory limit", "cpu limit", "memory reserved", "cpu reserved"])
    emit(fmt, rows, text)


def _cell(row: dict, key: str) -> str:
    return "-" if row[key] is None else f"{row[key]} ({row['from'][key]})"


COMMANDS = [limit, reserve, report]

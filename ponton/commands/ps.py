"""ps:scale, ps:report, ps:restart, ps:stop, ps:start: the app's instances."""

import http.client
import re

import click

from gitreceive import hook
from ponton.commands import autoscale
from ponton.core import validate
from ponton.core.errors import InvalidInput, NotFound
from ponton.core.undo import undone_on_failure
from ponton.features import quota
from ponton.output import app_argument, emit, format_option, pass_ponton, table
from ponton.pipeline import deploy, retire
from runtime import health


@click.command("ps:scale")
@app_argument()
@click.argument("pairs", metavar="TYPE=N...", nargs=-1)
@pass_ponton
def scale(p, app, pairs):
    """Run N instances of each process TYPE, e.g. `ps:scale APP web=3 worker=1`."""
    counts = validate.scale_pairs(pairs)
    with p.locked(app):
        previous = p.state.formation(app)
        quota.set_formation(p, app, counts)
        with undone_on_failure(lambda: p.state.set_formation(app, previous)):
            deployed = deploy.converge(p, app) is not None
    scaled = " ".join(f"{k}={v}" for k, v in p.state.formation(app).items())
    p.event(app, "scale", scaled)
    click.echo(f"-----> Scaled {app}: {scaled}" + ("" if deployed else " (applies from the first deploy)"))


@click.command("ps:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """Each instance of APP: process type, release, state, health, uptime, restarts, node; and each autoscaled
    process: bounds, targets, current and desired count, the last decision and why (as ps:autoscale:report)."""
    statuses = p.state.instance_statuses(app)
    ooms = oom_containers(p.state.events(app, 1000))
    autoscaled = {policy["process"]: policy for policy in autoscale.policies(p, app)}
    rows = []
    for instance in p.scheduler.instances(app):
        status = statuses.get(instance.name)
        rows.append({
            "instance": instance.name,
            "release": f"v{instance.release}",
            "state": status.status if status else instance.status,
            "health": _health(instance) if instance.process == "web" else "-",
            "uptime": _duration(instance.uptime) if instance.running else "-",
            "restarts": instance.restarts,
            "last_exit": last_exit(instance, ooms),
            "node": instance.node,
            "port": instance.port,
            "container": instance.engine_name,
            "autoscale": autoscaled.get(instance.process),  # its process's policy and last decision, or None
        })
    columns = [key for key in rows[0] if key != "autoscale"] if rows else []
    text = table([[r[key] for key in columns] for r in rows], columns) if rows else f"{app} has no instances"
    if autoscaled:  # every autoscaled process, those scaled to none too
        text += "\n\nautoscaling:\n" + autoscale.policies_table(list(autoscaled.values()))
    emit(fmt, rows, text)


OOM_EVENT = re.compile(r"ran out of memory \(container (\S+);")  # the watchdog's "oom" events


def oom_containers(events) -> set[str]:
    """Names of the containers the watchdog saw the kernel kill for their memory (the engine's `oom` events)."""
    return {m[1] for event in events if event.kind == "oom" and (m := OOM_EVENT.search(event.message))}


def last_exit(instance, ooms: set[str]) -> str:
    """Why the instance last stopped, or "-" if it never did. Once the engine restarts a container it may forget
    that it ran out of memory (newer engines reset OOMKilled and ExitCode when they start it again): the record
    the watchdog kept of the engine's `oom` event still says so."""
    if instance.running and not instance.restarts:
        return "-"
    if instance.engine_name in ooms and not instance.exit_code:
        return "out of memory"
    return instance.exit_reason


def _health(instance) -> str:
    try:
        status, _ = health.probe(instance)
    except (OSError, http.client.HTTPException):
        return "unreachable"
    return "healthy" if status < 500 else f"unhealthy ({status})"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s"


@click.command("ps:restart")
@app_argument()
@pass_ponton
def restart(p, app):
    """Replace every instance of APP, one at a time, without dropping a request."""
    with p.locked(app):
        _require_deployed(p, app, deploy.converge(p, app, replace=True) is not None)
        p.event(app, "restart", "every instance replaced")
    click.echo(f"-----> Restarted {app}")


@click.command("ps:stop")
@app_argument()
@pass_ponton
def stop(p, app):
    """Stop every instance of APP (it answers 503 until ps:start)."""
    with p.locked(app):
        _set_stopped(p, app, True)
        p.event(app, "stop", "every instance stopped")
    click.echo(f"-----> Stopped {app}")


@click.command("ps:start")
@app_argument()
@pass_ponton
def start(p, app):
    """Start APP's instances again after ps:stop."""
    with p.locked(app):
        _require_deployed(p, app, _set_stopped(p, app, False))
        p.event(app, "start", "instances started")
    click.echo(f"-----> Started {app}")


@click.command("ps:rebuild")
@app_argument()
@pass_ponton
def rebuild(p, app):
    """Build APP again from its deployed commit (or redeploy its image) and roll it out."""
    with p.locked(app):
        current = p.state.current_release(app)
        _require_deployed(p, app, current is not None)
        if hook.is_commit(current.source):
            hook.deploy_commit(p, app, current.source)
        else:
            deploy.deploy_image(p, app, current.image, current.source, f"Rebuild of {current.label}")


@click.command(retire.COMMAND, hidden=True)
@app_argument()
@click.argument("stops", metavar="ID@TIME...", nargs=-1, required=True)
@pass_ponton
def retire_instances(p, app, stops):
    """Finish stopping instances a rollout retired (the rollout hands them over, so that the push returns)."""
    wanted = {}
    for stop in stops:
        instance, _, kill_at = stop.partition("@")
        # An instance's id is its scheduler's: a container's (hex) or a Swarm service's (base 36).
        if not re.fullmatch(r"[0-9a-z]{12,64}", instance) or not re.fullmatch(r"[0-9]{1,11}(\.[0-9]{1,6})?", kill_at):
            raise InvalidInput(f"expected ID@TIME (an instance id, a Unix time), got {validate.shown(stop)}")
        wanted[instance] = float(kill_at)
    with p.locked(app):
        retire.finish(p, app, wanted)


def _set_stopped(p, app, stopped: bool) -> bool:
    """Record and converge to stopped or started; if that fails, the app is recorded as it was."""
    previous = p.state.app(app).stopped
    p.state.set_stopped(app, stopped)
    with undone_on_failure(lambda: p.state.set_stopped(app, previous)):
        return deploy.converge(p, app) is not None


def _require_deployed(p, app, deployed: bool):
    if not deployed:
        raise NotFound(f"app {app} has not been deployed yet")


COMMANDS = [scale, report, restart, stop, start, rebuild, retire_instances]

"""The server itself: the watchdog daemon, and `report` on engine, nginx, watchdog and apps."""

import os
import time

import click

from ponton.core import dockerclient
from ponton.output import Number, emit, format_option, pass_ponton, table
from ponton.pipeline.watchdog import Watchdog


@click.command("watchdog")
@click.option("--interval", type=Number(0.5, 3600), default=10, show_default=True,
              help="Seconds between full reconciliations (engine events trigger one at once).")
@pass_ponton
def watchdog(p, interval):
    """Keep every app at its recorded state: replace missing or unhealthy instances, mend routing.
    Runs in the foreground; under systemd (Type=notify) it reports readiness and liveness."""
    Watchdog(p, interval).run_forever()


@click.command("report")
@format_option
@pass_ponton
def report(p, fmt):
    """Show the server: Docker engine, nginx, watchdog, and each app's instances."""
    try:
        engine_status = f"running (Docker {dockerclient.client().version()['Version']})"
    except Exception as e:  # report what is wrong instead of failing: this command is for diagnosing
        engine_status = f"unreachable: {e}"
    beat, _, pid = p.state.setting("watchdog_heartbeat", "").partition(" ")
    watchdog_status = "never ran"
    if beat:
        age = time.time() - float(beat)
        watchdog_status = f"{'alive' if _alive(int(pid)) else 'not running'} (pid {pid}, last round {age:.0f}s ago)"
    data = {
        "engine": engine_status,
        "nginx": _nginx_status(p),
        "watchdog": watchdog_status,
        "apps": [_app_summary(p, app.name) for app in p.state.apps()],
    }
    for sections in p.hooks.report_sections(settings=p.settings):  # the plugins' own (backing services)
        data.update(sections)
    lines = [f"{key}: {data[key]}" for key in ("engine", "nginx", "watchdog")]
    for section in [key for key in data if key not in ("engine", "nginx", "watchdog")]:
        if data[section]:
            lines += ["", table([list(row.values()) for row in data[section]], list(data[section][0]))]
    emit(fmt, data, "\n".join(lines))


def _app_summary(p, app: str) -> dict:
    release = p.state.current_release(app)
    wanted = sum(p.state.formation(app).values())
    try:
        running = sum(i.running for i in p.scheduler.instances(app))
    except Exception:  # engine down: already reported above
        running = "?"
    problems = [f"{k}: {v.status}" for k, v in p.state.instance_statuses(app).items()]
    letsencrypt = p.state.letsencrypt(app)
    if letsencrypt is not None and letsencrypt.status == "failed":
        problems.append(f"letsencrypt: failed ({letsencrypt.last_error})")
    problems = ", ".join(problems)
    return {
        "app": app,
        "release": release.label if release else "-",
        "state": "stopped" if p.state.app(app).stopped else "running",
        "instances": f"{running}/{wanted}",
        "problems": problems or "-",
    }


def _nginx_status(p) -> str:
    try:
        pid = int(p.settings.nginx_pid_file.read_text())
    except (OSError, ValueError):
        return f"not running (no pid in {p.settings.nginx_pid_file})"
    return f"running (pid {pid})" if _alive(pid) else f"not running (stale pid {pid})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


COMMANDS = [watchdog, report]

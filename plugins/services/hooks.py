"""What each kind's plugin answers to ponton's hooks: the networks of linked apps, the watchdog's round, the report."""

import time

from plugins.services import Kind, backups, container, engine_name, lock_name
from ponton import api
from ponton.core.context import Ponton
from ponton.core.errors import PontonError
from ponton.core.hookspecs import hookimpl
from ponton.core.lock import app_lock

UNHEALTHY_AFTER = 3  # failed health checks in a row (one a round) before the watchdog restarts a service
WATCHDOG = "watchdog"  # who acts, in the events
# Container id -> failed health checks in a row. The watchdog's process keeps it from round to round, as it keeps
# its count for app instances; its rounds never overlap.
failures: dict[str, int] = {}


def networks(settings, kind: Kind, app: str) -> list[str]:
    """The networks of the services of `kind` linked to `app`, made again if something removed one."""
    p = Ponton(settings)
    if not p.state.app_exists(app):
        return []
    names = [row.name for row in p.state.app_service_links(app) if row.kind == kind.name]
    for name in names:
        container.ensure_network(kind, name)
    return [engine_name(kind, name) for name in names]


def watchdog_round(settings, log, kind: Kind):
    """Bring each service of `kind` to its recorded state and run its backup when due; one service's trouble is
    logged and the others are still seen to."""
    p = Ponton(settings, log=log)
    for row in p.state.services(kind.name):
        try:
            with app_lock(settings.state_dir, lock_name(kind, row.name), wait=False) as locked:
                if locked and p.state.service_exists(kind.name, row.name):  # not destroyed while we waited
                    _mend(p, kind, row.name)
                    _backup_if_due(p, kind, row.name)
        except Exception as e:  # the engine's errors too: the next round tries again
            p.log(f"{kind.name} service {row.name}: {type(e).__name__}: {api.one_line(str(e))}")


def _mend(p, kind: Kind, name: str):
    found = container.find(p.settings, kind, name)
    if found is None:
        api.ensure_image(p.settings, kind.image, kind.image_dir, p.log)
        container.create(p.settings, kind, name, p.state.service(kind.name, name).password)
        _record(p, kind, name, "recreate", "its container was missing: started a new one on its volume")
    elif found.status in ("exited", "created", "dead"):  # stopped by hand: the engine's restart policy waits
        container.ensure_network(kind, name)
        found.start()
        _record(p, kind, name, "start", f"its container was {found.status}: started it")
    elif found.status == "running" and api.seconds_since(found.attrs["State"]["StartedAt"]) >= p.settings.health_timeout:  # a start may take that long
        failures[found.id] = 0 if container.healthy(kind, found) else failures.get(found.id, 0) + 1
        if failures[found.id] >= UNHEALTHY_AFTER:
            failures.pop(found.id)
            _record(p, kind, name, "health", f"failed {UNHEALTHY_AFTER} health checks in a row: restarting it")
            found.restart(timeout=p.settings.stop_timeout)


def _backup_if_due(p, kind: Kind, name: str):
    row = p.state.service(kind.name, name)
    if not row.backup_schedule:
        return
    now = time.time()
    if now < backups.next_due(row.backup_schedule, row.backup_from or row.created):
        return
    p.log(f"{kind.name} service {name}: scheduled backup ({row.backup_schedule})")
    try:
        # From now: a watchdog that was down for days takes one backup, not every one it missed.
        backups.take(p, kind, name, WATCHDOG, since=now)
    except PontonError as e:  # recorded as an event and in the report by take
        p.log(str(e))


def _record(p, kind: Kind, name: str, event: str, message: str):
    p.log(f"{kind.name} service {name}: {message}")
    p.state.add_service_event(kind.name, name, WATCHDOG, event, message)


def report(settings, kind: Kind) -> dict:
    """The services of `kind` for `ponton report`: state, links, backups, and what is wrong."""
    p = Ponton(settings)
    rows = []
    for row in p.state.services(kind.name):
        try:
            status = container.state(settings, kind, row.name)
        except Exception:  # the engine is down: the report says so already, and must still show the rest
            status = "unknown"
        problems = [f"container {status}"] if status not in ("running", "unknown") else []
        if row.backup_error:
            problems.append(f"last backup failed: {row.backup_error}")
        rows.append({"service": f"{kind.name} {row.name}", "state": status,
                     "links": ", ".join(p.state.service_links(kind.name, row.name)) or "-",
                     "backups": row.backup_schedule or "-", "problems": "; ".join(problems) or "-"})
    return {kind.name: rows}


class ServicePlugin:
    """The hooks of one kind of service, registered as a plugin (plugins/postgres, plugins/redis)."""

    def __init__(self, kind: Kind, commands):
        self.kind, self.commands = kind, commands

    @hookimpl
    def ponton_commands(self):
        return self.commands(self.kind)

    @hookimpl
    def app_networks(self, settings, app):
        return networks(settings, self.kind, app)

    @hookimpl
    def watchdog_round(self, settings, log):
        watchdog_round(settings, log, self.kind)

    @hookimpl
    def report_sections(self, settings):
        return report(settings, self.kind)

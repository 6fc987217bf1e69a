"""The commands of a kind of service, KIND:create ... KIND:events, named as Dokku's plugins name them. Each one
that changes a service holds its lock (and the app's, for link and unlink: service first, in name order as
Ponton.locked takes them) and checks who may run it once it holds them (owners.py)."""

import secrets
import shutil
import time

import click

from plugins.services import Kind, backups, check_name, container, engine_name, host, lock_name, owns_url, url
from plugins.services.owners import MANAGE, USE, require, visible
from ponton import api
from ponton.core.errors import InvalidInput, NotFound
from ponton.core.undo import undone_on_failure


def build(kind: Kind) -> list[click.Command]:
    topic = kind.name
    name_argument = click.argument("name", metavar="NAME", callback=lambda ctx, param, value: check_name(value))

    def command(verb: str):
        """A command of the topic, checking its own access (and an APP argument's, as every command does)."""
        def decorate(f):
            return api.checks_own_access(click.command(f"{topic}:{verb}")(api.pass_ponton(f)))
        return decorate

    @command("create")
    @name_argument
    def create(p, name):
        """Create a service NAME: its own container, network and data volume, and a generated password. It belongs
        to you; link it to an app with KIND:link NAME APP."""
        with p.locked(lock_name(kind, name)):
            if p.state.service_exists(kind.name, name):
                raise InvalidInput(f"{kind.name} service {name} already exists")
            leftovers = container.leftovers(kind, name)
            if leftovers:
                raise InvalidInput(f"the Docker engine has {', '.join(leftovers)} already: remove it, or choose "
                                   "another name")
            api.create_service(p, kind.name, name, p.remote_user, secrets.token_urlsafe(24), backups.KEEP)

            def undo():
                container.remove(p.settings, kind, name, volume=True)
                p.state.delete_service(kind.name, name)

            with undone_on_failure(undo):
                api.ensure_image(p.settings, kind.image, kind.image_dir, click.echo)
                click.echo(f"-----> Starting {kind.name} service {name}")
                started = container.create(p.settings, kind, name, p.state.service(kind.name, name).password)
                container.wait_healthy(kind, name, started)
            p.state.add_service_event(kind.name, name, p.user, "create", f"created {kind.name} service {name}")
        click.echo(f"=====> {kind.title} service {name} is ready: `ponton {topic}:link {name} APP` gives APP its "
                   f"{kind.variable}")

    @command("destroy")
    @name_argument
    @click.option("--force", is_flag=True, help="Required: destroying removes the data and the backups.")
    def destroy(p, name, force):
        """Destroy service NAME: its container, network, data volume and backups. Refused while it is linked."""
        with p.locked(lock_name(kind, name)):
            require(p, kind, name, MANAGE, f"{topic}:destroy")
            links = p.state.service_links(kind.name, name)
            if links:
                raise InvalidInput(f"{kind.name} service {name} is linked to {', '.join(links)}: "
                                   f"`ponton {topic}:unlink {name} APP` first")
            if not force:
                raise InvalidInput(f"destroying {kind.name} service {name} removes its data and backups, and cannot "
                                   "be undone: run again with --force")
            container.remove(p.settings, kind, name, volume=True)
            shutil.rmtree(backups.directory(p.settings, kind, name), ignore_errors=True)  # may never have had one
            p.state.delete_service(kind.name, name)  # last: a destroy cut short leaves it, to be destroyed again
        click.echo(f"-----> Destroyed {kind.name} service {name}")

    @command("link")
    @name_argument
    @api.app_argument()
    def link(p, name, app):
        """Link service NAME to APP: APP's containers join the service's network and get its URL in KIND_VARIABLE;
        APP rolls onto new containers with no failed request."""
        with p.locked(lock_name(kind, name), app):
            row = require(p, kind, name, MANAGE, f"{topic}:link")
            if app in p.state.service_links(kind.name, name):
                raise InvalidInput(f"{kind.name} service {name} is linked to app {app} already")
            config = p.state.config(app)
            if kind.variable in config:
                linked = [r.name for r in p.state.app_service_links(app) if r.variable == kind.variable]
                why = f"from {kind.name} service {linked[0]}" if linked else "by config:set"
                raise InvalidInput(f"app {app} has {kind.variable} already ({why}): unlink or config:unset it first")
            p.state.link_service(kind.name, name, app, kind.variable)
            with undone_on_failure(lambda: p.state.unlink_service(kind.name, name, app)):
                api.change_config(p, app, {**config, kind.variable: url(kind, name, row.password)},
                                  f"Link {kind.name} service {name} ({kind.variable})")
            p.state.add_service_event(kind.name, name, p.user, "link", f"linked to app {app} ({kind.variable})")
        click.echo(f"-----> {app} reaches {kind.name} service {name} at {host(kind, name)} ({kind.variable})")

    @command("unlink")
    @name_argument
    @api.app_argument()
    def unlink(p, name, app):
        """Unlink service NAME from APP: KIND_VARIABLE is removed and APP rolls onto containers off the service's
        network."""
        with p.locked(lock_name(kind, name), app):
            require(p, kind, name, USE, f"{topic}:unlink")
            config = p.state.config(app)
            p.state.unlink_service(kind.name, name, app)  # NotFound if it is not linked
            with undone_on_failure(lambda: p.state.link_service(kind.name, name, app, kind.variable)):
                if owns_url(config.get(kind.variable), kind, name):  # a value set by hand since is the user's
                    api.change_config(p, app, {k: v for k, v in config.items() if k != kind.variable},
                                      f"Unlink {kind.name} service {name} ({kind.variable})")
                container.disconnect_app(kind, name, app)
            p.state.add_service_event(kind.name, name, p.user, "unlink", f"unlinked from app {app}")
        click.echo(f"-----> {app} no longer reaches {kind.name} service {name}")

    @command("info")
    @name_argument
    @api.format_option
    def info(p, name, fmt):
        """Show service NAME: state, URL, links, volume, network, backups."""
        row = require(p, kind, name, USE, f"{topic}:info")
        listed = backups.listing(p.settings, kind, name)
        data = {
            "name": name, "kind": kind.name, "owner": row.owner, "created": api.when(row.created),
            "state": container.state(p.settings, kind, name), "url": url(kind, name, row.password),
            "host": host(kind, name), "links": p.state.service_links(kind.name, name), "image": kind.image,
            "volume": engine_name(kind, name), "network": engine_name(kind, name),
            "backup_schedule": row.backup_schedule, "backup_keep": row.backup_keep,
            "next_backup": (api.when(backups.next_due(row.backup_schedule, row.backup_from or row.created))
                            if row.backup_schedule else None),
            "backups": len(listed), "last_backup": listed[-1]["id"] if listed else None,
            "last_backup_error": row.backup_error or None,
        }
        text = api.table([[k, _cell(v)] for k, v in data.items()], ["field", "value"])
        api.emit(fmt, data, text)

    @command("list")
    @api.format_option
    def list_(p, fmt):
        """List the services of this kind you may use (an admin sees every one)."""
        rows = [{"name": row.name, "state": container.state(p.settings, kind, row.name),
                 "links": p.state.service_links(kind.name, row.name), "owner": row.owner}
                for row in visible(p, kind)]
        text = api.table([[r["name"], r["state"], ", ".join(r["links"]) or "-", r["owner"] or "-"] for r in rows],
                         ["name", "state", "links", "owner"]) if rows else f"no {kind.name} services: {topic}:create NAME"
        api.emit(fmt, rows, text)

    @command("restart")
    @name_argument
    def restart(p, name):
        """Restart service NAME's container (its data stays); returns once it answers again."""
        with p.locked(lock_name(kind, name)):
            require(p, kind, name, MANAGE, f"{topic}:restart")
            found = container.find(p.settings, kind, name)
            if found is None:
                raise NotFound(f"{kind.name} service {name} has no container (the watchdog makes it again)")
            found.restart(timeout=p.settings.stop_timeout)
            container.wait_healthy(kind, name, found)
            p.state.add_service_event(kind.name, name, p.user, "restart", "restarted")
        click.echo(f"-----> Restarted {kind.name} service {name}")

    @command("backup")
    @name_argument
    def backup(p, name):
        """Back service NAME up now, under the server's state dir; the newest backups are kept (backup-schedule
        --keep, 7 by default)."""
        with p.locked(lock_name(kind, name)):
            require(p, kind, name, USE, f"{topic}:backup")
            made = backups.take(p, kind, name, p.user)
        click.echo(f"-----> Backup {made['id']} of {kind.name} service {name} ({made['size']} bytes)")

    @command("backups")
    @name_argument
    @api.format_option
    def list_backups(p, name, fmt):
        """List service NAME's backups, oldest first: the id that restore takes, when, size in bytes."""
        require(p, kind, name, USE, f"{topic}:backups")
        rows = [{"id": b["id"], "created": api.when(b["created"]), "size": b["size"]}
                for b in backups.listing(p.settings, kind, name)]
        text = api.table([list(r.values()) for r in rows], ["id", "created", "size"]) if rows else "no backups yet"
        api.emit(fmt, rows, text)

    @command("restore")
    @name_argument
    @click.argument("backup_id", metavar="BACKUP")
    def restore(p, name, backup_id):
        """Put service NAME's data back as backup BACKUP has it (an id that KIND:backups lists)."""
        backups.check_id(backup_id)
        with p.locked(lock_name(kind, name)):
            require(p, kind, name, MANAGE, f"{topic}:restore")
            path = backups.find(p.settings, kind, name, backup_id)
            found = container.find(p.settings, kind, name)
            if found is None or found.status != "running":
                raise InvalidInput(f"{kind.name} service {name} is not running ({container.state(p.settings, kind, name)})")
            click.echo(f"-----> Restoring {kind.name} service {name} from backup {backup_id}")
            kind.restore(p.settings, found, name, path)
            p.state.add_service_event(kind.name, name, p.user, "restore", f"restored backup {backup_id}")
        click.echo(f"-----> {kind.title} service {name} has the data of backup {backup_id}")

    @command("backup-schedule")
    @name_argument
    @click.argument("schedule", metavar="CRON")
    @click.option("--keep", type=api.WholeNumber(1, backups.MAX_KEEP), default=backups.KEEP, show_default=True,
                  help="How many backups to keep (the oldest go).")
    def schedule(p, name, schedule, keep):
        """Back service NAME up on the cron schedule CRON (5 fields, UTC: "0 3 * * *" is every day at 03:00, or
        @hourly, @daily...), run by the watchdog. A failed backup is an event and shows in `ponton report`."""
        schedule = backups.check_schedule(schedule)
        with p.locked(lock_name(kind, name)):
            require(p, kind, name, MANAGE, f"{topic}:backup-schedule")
            p.state.set_backup_schedule(kind.name, name, schedule, keep, since=time.time())
            p.state.add_service_event(kind.name, name, p.user, "backup-schedule", f"{schedule}, keeping {keep}")
        click.echo(f"-----> {kind.name} service {name} is backed up on {schedule!r} (UTC), keeping {keep}")

    @command("backup-unschedule")
    @name_argument
    def unschedule(p, name):
        """Stop the scheduled backups of service NAME (its backups stay)."""
        with p.locked(lock_name(kind, name)):
            row = require(p, kind, name, MANAGE, f"{topic}:backup-unschedule")
            p.state.set_backup_schedule(kind.name, name, None, row.backup_keep, since=None)
            p.state.add_service_event(kind.name, name, p.user, "backup-schedule", "no schedule")
        click.echo(f"-----> {kind.name} service {name} has no backup schedule")

    @command("events")
    @name_argument
    @click.option("-n", "--num", type=api.WholeNumber(1, 10_000), default=50, show_default=True, help="How many.")
    @api.format_option
    def events(p, name, num, fmt):
        """List service NAME's latest events, oldest first: when, who, what (the watchdog's and failed backups too)."""
        require(p, kind, name, USE, f"{topic}:events")
        rows = [{"time": api.when(row.time), "user": row.user, "kind": row.kind, "message": row.message}
                for row in p.state.service_events(kind.name, name, num)]
        api.emit(fmt, rows, api.table([list(r.values()) for r in rows], ["time", "user", "kind", "message"])
                 if rows else "no events")

    def _cell(value) -> str:
        if isinstance(value, list):
            return ", ".join(value) or "-"
        return "-" if value is None or value == "" else str(value)

    commands = [create, destroy, link, unlink, info, list_, restart, backup, list_backups, restore, schedule,
                unschedule, events]
    for each in commands:  # the help says which variable this kind's link sets
        each.help = each.help.replace("KIND_VARIABLE", kind.variable).replace("KIND:", f"{topic}:")
    return commands

"""apps:create, apps:list, apps:info, apps:rename, apps:destroy."""

import contextlib

import click

from ponton.core import validate
from ponton.core.errors import InvalidInput
from ponton.core.undo import undone_on_failure
from ponton.features import access, quota
from ponton.output import app_argument, emit, format_option, pass_ponton, table, when


@click.command("apps:create")
@app_argument()
@pass_ponton
def create(p, app):
    """Create APP (pushing to an app that does not exist creates it too). You own the apps you create."""
    create_app(p, app)
    click.echo(f"-----> Created {app}: {p.url(app)}")


def create_if_missing(p, app: str):
    """Create `app` for a push (over SSH or HTTPS) to an app that does not exist yet."""
    if not p.state.app_exists(app):
        create_app(p, app)
        click.echo(f"-----> Created {app}", err=True)


def create_app(p, app: str):
    """Create `app`, owned by the user who asks (within their quota); on the server itself, by no one. It starts
    clean: whatever an app of that name left (a rename or destroy cut short) is removed once the name is its own."""
    from ponton.pipeline import appdata  # imported here: apps:list, in this module too, must start fast

    quota.create_app(p, validate.new_app_name(app), p.remote_user)
    with undone_on_failure(lambda: p.state.delete_app(app)), p.locked(app):  # the lock: held already by a push
        appdata.remove(p, app)
    p.event(app, "create", f"created {app}")


@click.command("apps:list")
@format_option
@pass_ponton
def list_apps(p, fmt):
    """List the apps you may use (an admin sees every app)."""
    names = access.visible_apps(p)
    emit(fmt, names, "\n".join(names) or "no apps yet: ponton apps:create APP")


@click.command("apps:info")
@app_argument()
@format_option
@pass_ponton
def info(p, app, fmt):
    """Show APP's URL, domains, current release, scale and state."""
    record = p.state.app(app)
    current = p.state.current_release(app)
    data = {
        "name": app,
        "url": p.url(app),
        "domains": p.domains(app),
        "created": when(record.created),
        "owner": record.owner,
        "release": current.label if current else None,
        "source": current.source if current else None,
        "deployed": when(current.created) if current else None,
        "formation": p.state.formation(app),
        "state": "stopped" if record.stopped else ("running" if current else "not deployed"),
    }
    text = table([[k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else
                   " ".join(v) if isinstance(v, list) else v or "-"] for k, v in data.items()], ["field", "value"])
    emit(fmt, data, text)


@click.command("apps:rename")
@app_argument("old")
@app_argument("new")
@pass_ponton
def rename(p, old, new):
    """Rename OLD to NEW; its containers are replaced (a short interruption, as with Dokku)."""
    if old == validate.new_app_name(new):
        raise InvalidInput("the new name is the same as the old one")
    with p.locked(old, new):
        p.state.rename_app(old, new)  # refused if NEW exists; from here on the name is this app's

        def undo():  # OLD it stays: its name, files and instances back (best effort, as the move)
            p.state.rename_app(new, old)
            with contextlib.suppress(Exception):
                _move(p, new, old)

        with undone_on_failure(undo):
            _move(p, old, new)
        p.event(new, "rename", f"renamed from {old}")
    click.echo(f"-----> Renamed {old} to {new}: {p.url(new)}")


def _move(p, old: str, new: str):
    """Move what the app has besides its state (already renamed) from OLD to NEW, and run it as NEW."""
    from ponton.pipeline import appdata, deploy  # imported here: see create_app

    deploy.remove_runtime(p, old)
    appdata.rename(p, old, new)  # its files and images, and nothing of what was left under NEW
    deploy.converge(p, new)


@click.command("apps:destroy")
@app_argument()
@click.option("--force", is_flag=True, help="Required: destroying removes containers, routing, config and releases.")
@pass_ponton
def destroy(p, app, force):
    """Destroy APP: its containers, network, vhost, images, repository, certificate, logs, config and releases."""
    from ponton.pipeline import appdata, deploy  # imported here: see create_app

    if not force:
        raise InvalidInput(f"destroying {app} cannot be undone: run again with --force")
    with p.locked(app):
        appdata.remove(p, app, deploy.built_images(p.state.releases(app)))
        p.state.delete_app(app)  # last: a destroy cut short leaves the app, to be destroyed again
    click.echo(f"-----> Destroyed {app}")


COMMANDS = [create, list_apps, info, rename, destroy]

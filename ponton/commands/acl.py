"""acl:add, acl:remove, acl:list: which users besides its owner may use an app."""

import click

from gitreceive.sshkeys import key_name
from ponton.core.errors import InvalidInput, NotFound
from ponton.output import app_argument, emit, format_option, pass_ponton, table


@click.command("acl:add")
@app_argument()
@click.argument("user")
@pass_ponton
def add(p, app, user):
    """Let USER use APP: deploy, configure, scale, read its config and logs (not destroy, rename or grant)."""
    p.state.require_user(key_name(user))
    with p.locked(app):
        if p.state.app(app).owner == user:
            raise InvalidInput(f"{user} owns app {app} already")
        if user in p.state.granted(app):
            click.echo(f"-----> {user} has access to {app} already")
            return
        p.state.set_access(app, user, True)
        p.event(app, "acl", f"granted access to {user}")
    click.echo(f"-----> {user} may now use {app}")


@click.command("acl:remove")
@app_argument()
@click.argument("user")
@pass_ponton
def remove(p, app, user):
    """Take back USER's access to APP (its owner keeps it)."""
    with p.locked(app):
        if key_name(user) not in p.state.granted(app):
            raise NotFound(f"{user} was not granted access to app {app}")
        p.state.set_access(app, user, False)
        p.event(app, "acl", f"removed the access of {user}")
    click.echo(f"-----> {user} may no longer use {app}")


@click.command("acl:list")
@app_argument()
@format_option
@pass_ponton
def list_(p, app, fmt):
    """Who may use APP: its owner and the users granted access (admins may use every app)."""
    owner = p.state.app(app).owner
    rows = ([{"user": owner, "access": "owner"}] if owner else []) + [
        {"user": user, "access": "granted"} for user in p.state.granted(app)]
    text = table([list(r.values()) for r in rows], ["user", "access"]) if rows else f"{app}: admins only"
    emit(fmt, rows, text)


COMMANDS = [add, remove, list_]

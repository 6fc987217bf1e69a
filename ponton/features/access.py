"""Who may do what. Two roles: `admin` (everything, server-wide commands included) and `user` (the apps they own,
having created them, and the apps granted to them with acl:add).

Every request is checked here before it runs: the CLI wraps the callback of every command it registers,
built-in or plugin (`guard`), and ssh-command checks a push or a clone the same way (`check`). It is checked again
when the command holds the app's lock (Ponton.locked), since the app may have changed while it waited: created by
another user, renamed, its access revoked. A denied request raises AccessDenied before anything changed, and is
recorded in the app's events. Someone on the server itself (no PONTON_USER: root, the services) is an admin.
"""

import functools

import click

from ponton.core.context import Ponton
from ponton.core.errors import AccessDenied, NotFound

ADMIN, USER = "admin", "user"
ROLES = (ADMIN, USER)

# Any user may run these: each shows, or creates, only what is the user's own.
OPEN = {"apps:list", "apps:create", "quota:report", "tokens:create", "tokens:list", "tokens:revoke", "dashboard:login"}
# A command that acts for another user (tokens:create --for USER) is for admins only.
FOR_PARAM = "for_user"
# Run by sshd, by git during a push, by ponton web for git over HTTPS (each checking the git request itself, in
# ssh.serve_git) and after a rollout; ssh.parse never lets a remote user name them.
INTERNAL = {"ssh-command", "git-hook", "git-http", "ps:retire"}
# On an app, for its owner (and admins) only: its existence, its name, and who else may use it.
OWNER_ONLY = {"apps:destroy", "apps:rename", "acl:add", "acl:remove"}
# On an app, for admins only: these decide what a tenant gets from the server. (git:from-image deploys any image
# on the server, another app's build included; ports:add opens a port of the server to the world.)
ADMIN_ONLY = {"resource:limit", "resource:reserve", "git:from-image", "ports:add"}
# Any other command needs access to the app its APP argument names, and without one it is for admins: a command
# added later (by a plugin too) is safe until someone decides otherwise.
APP_PARAMS = ("app", "old")  # apps:rename OLD NEW acts on OLD
# These create the app they name if it does not exist (for the user who asks): the only ones a user may run on an
# app that does not exist. Any other would find, by the time it reads the app, one someone else created meanwhile.
CREATES = {"git:from-archive", "git:from-image", "git-receive-pack"}
# A plugin's command that acts on something of its own (a backing service, whose owner and users it knows) checks
# that itself, under that thing's lock, with `is_admin` and the state's owners and grants: marked with
# `checks_own_access`, any user may run it as far as this module goes, and an APP argument it has is checked here.
OWN_CHECK = "ponton_checks_own_access"


def checks_own_access(command: click.Command) -> click.Command:
    setattr(command, OWN_CHECK, True)
    return command


def guard(command: click.Command) -> click.Command:
    """Make `command` check access with its parsed arguments before its own code runs."""
    callback = command.callback
    if callback is None or getattr(callback, "ponton_guarded", False):
        return command

    @functools.wraps(callback)
    def guarded(*args, **params):
        p = click.get_current_context().ensure_object(Ponton)
        own = getattr(command, OWN_CHECK, False)
        p.recheck = lambda: check(p, command.name, params, own)  # once Ponton.locked holds the app's lock
        p.recheck()
        return callback(*args, **params)

    guarded.ponton_guarded = True
    command.callback = guarded
    return command


def check(p, command: str, params: dict, own: bool = False):
    """Raise AccessDenied unless the acting user may run `command` with `params` (the parsed arguments); `own`:
    the command checks what else it acts on itself (checks_own_access)."""
    user = p.remote_user
    if user is None or command in INTERNAL or is_admin(p):
        return
    if params.get(FOR_PARAM):
        deny(p, None, f"{command} --for USER is for admins only")
    app = next((params[name] for name in APP_PARAMS if params.get(name)), None)
    if command in OPEN or (own and app is None):
        return
    if app is None or command in ADMIN_ONLY:
        deny(p, app, f"{command} is for admins only")
    if not p.state.app_exists(app):
        if command in CREATES:
            return  # it creates the app for this user, under the app's lock, where it is checked again
        raise NotFound(f"app {app} does not exist")
    if command in OWNER_ONLY:
        if p.state.app(app).owner != user:
            deny(p, app, f"only the owner of app {app} or an admin may run {command} (user {user})")
    elif not p.state.has_access(app, user):
        deny(p, app, f"user {user} has no access to app {app} ({command})")


def deny(p, app: str | None, reason: str):
    """Refuse the request: record it in the app's events (if the app exists) and raise AccessDenied."""
    if app and p.state.app_exists(app):
        p.event(app, "denied", reason)
    raise AccessDenied(f"access denied: {reason}")


def is_admin(p) -> bool:
    return p.remote_user is None or p.state.role(p.remote_user) == ADMIN


def visible_apps(p) -> list[str]:
    """The apps the acting user may see: every app for an admin, else the owned and granted ones."""
    names = [app.name for app in p.state.apps()]
    if is_admin(p):
        return names
    return [name for name in names if p.state.has_access(name, p.remote_user)]

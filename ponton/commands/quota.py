"""quota:set, quota:report: how many apps and instances each user may have."""

import click

from gitreceive.sshkeys import key_name
from ponton.features import access, quota
from ponton.output import emit, format_option, pass_ponton, table


@click.command("quota:set")
@click.argument("user")
@click.argument("pairs", metavar="KEY=VALUE...", nargs=-1)
@pass_ponton
def set_(p, user, pairs):
    """Limit USER's apps and instances, e.g. `quota:set alice apps=3 instances=6`.

    VALUE is a number, `unlimited`, or `default` (the server's default_quota setting). Existing apps are
    never removed: a quota only refuses what would go over it.
    """
    p.state.require_user(key_name(user))
    values = quota.parse(pairs)
    p.state.set_quotas(user, values)
    click.echo(f"-----> Quota of {user}: " + _describe(quota.limits(p, user)))


@click.command("quota:report")
@click.argument("user", required=False)
@format_option
@pass_ponton
def report(p, user, fmt):
    """Show the quotas and usage of USER (default: you; an admin without USER sees every user)."""
    if user and user != p.remote_user and not access.is_admin(p):
        access.deny(p, None, "only admins may see the quotas of other users")
    if user:
        p.state.require_user(key_name(user))
        names = [user]
    else:
        names = [user.name for user in p.state.users()] if access.is_admin(p) else [p.remote_user]
    rows = []
    for name in names:
        limits, used = quota.limits(p, name), quota.usage(p, name)
        exempt = p.state.role(name) == access.ADMIN
        rows.append({"user": name, "role": p.state.role(name),
                     **{f"{key}": used[key] for key in quota.KEYS},
                     **{f"max_{key}": None if exempt else limits[key] for key in quota.KEYS}})
    text = table([[_cell(v) for v in r.values()] for r in rows], list(rows[0])) if rows else "no users yet"
    emit(fmt, rows, text)


def _describe(limits: dict) -> str:
    return " ".join(f"{key}={_cell(value)}" for key, value in limits.items())


def _cell(value) -> str:
    return "unlimited" if value is None else str(value)


COMMANDS = [set_, report]

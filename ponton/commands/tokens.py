"""tokens:create, tokens:list, tokens:revoke: API tokens for the web face (`Authorization: Bearer TOKEN`, and the
password of git over HTTPS)."""

import click

from ponton.features import tokens
from ponton.output import WholeNumber, emit, format_option, pass_ponton, table, when

for_option = click.option("--for", "for_user", metavar="USER", help="Another user's token (admins only).")


@click.command("tokens:create")
@click.argument("name")
@click.option("--expires", "days", type=WholeNumber(1, tokens.MAX_DAYS), default=tokens.DEFAULT_DAYS,
              show_default=True, help="Days until the token stops working.")
@for_option
@format_option
@pass_ponton
def create(p, name, days, for_user, fmt):
    """Create API token NAME and print it, once, alone on the last line (only its hash is kept). It acts as
    you (as USER with --for); one that root creates on the server without --for acts as an admin."""
    secret, expires = tokens.create(p, name, days, for_user)
    user = tokens.owner(p, for_user)
    text = (f"-----> Token {name}{f' of {user}' if user else ' (server admin)'} expires {when(expires)}; "
            f"it is shown only this once:\n{secret}")
    emit(fmt, {"name": name, "token": secret, "expires": when(expires)}, text)


@click.command("tokens:list")
@format_option
@pass_ponton
def list_tokens(p, fmt):
    """List your API tokens (an admin sees everyone's): name, user, created, expires; never the secret."""
    rows = [{"name": t.name, "user": t.user, "created": when(t.created), "expires": when(t.expires)}
            for t in tokens.listing(p)]
    text = table([[r["name"], r["user"] or "(server)", r["created"], r["expires"]] for r in rows],
                 ["name", "user", "created", "expires"]) if rows else "no tokens: ponton tokens:create NAME"
    emit(fmt, rows, text)


@click.command("tokens:revoke")
@click.argument("name")
@for_option
@pass_ponton
def revoke(p, name, for_user):
    """Revoke API token NAME: it stops working at once."""
    tokens.revoke(p, name, for_user)
    click.echo(f"-----> Revoked token {name}")


COMMANDS = [create, list_tokens, revoke]

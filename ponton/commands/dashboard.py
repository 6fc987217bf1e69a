"""dashboard:login: a one-time link that logs a browser into the dashboard."""

import click

from ponton.features import tokens, webhost
from ponton.output import pass_ponton


@click.command("dashboard:login")
@pass_ponton
def login(p):
    """Print a link that logs a browser into the dashboard as you, once, within 10 minutes."""
    code = tokens.login_link_code(p)
    click.echo(f"-----> Open this link within {tokens.LOGIN_SECONDS // 60} minutes; it works once:\n"
               f"{webhost.url(p)}/login/{code}")


COMMANDS = [login]

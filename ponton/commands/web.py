"""web: the web face (JSON API, dashboard, git over HTTPS) as a service, on 127.0.0.1:web_port behind nginx."""

import click

from ponton.output import pass_ponton


@click.command("web")
@pass_ponton
def web(p):
    """Serve the API, the dashboard and git over HTTPS on 127.0.0.1:web_port (setting), in the foreground,
    and have nginx serve them at ponton.DOMAIN. Also samples each app's numbers for the dashboard's plots.
    install.sh runs it as a service."""
    from ponton.web import service  # imported here: the web's libraries are for this command alone

    service.serve(p)


COMMANDS = [web]

"""domains:add, domains:remove, domains:report, domains:set-global. Routing follows at once."""

import click

from ponton.core import validate
from ponton.core.errors import InvalidInput
from ponton.core.undo import undone_on_failure
from ponton.features import access
from ponton.output import app_argument, emit, format_option, pass_ponton
from ponton.pipeline import routing


@click.command("domains:add")
@app_argument()
@click.argument("domain")
@pass_ponton
def add(p, app, domain):
    """Serve APP at DOMAIN too (a domain belongs to one app only)."""
    domain = validate.custom_domain(domain, p.global_domain())
    with p.locked(app):
        _check_free(p, app, domain)
        p.state.add_domain(app, domain)
        with undone_on_failure(lambda: p.state.remove_domain(app, domain)):
            routing.reroute(p, app)
        p.event(app, "domains", f"added {domain}")
    click.echo(f"-----> Added {domain} to {app}")


def _check_free(p, app: str, domain: str):
    """Refuse a domain that is another app's (nginx would serve a name claimed twice by whichever file it read
    first); those under the global domain are refused before (validate.custom_domain)."""
    holder = p.state.domain_app(domain)
    if holder and holder != app and holder not in access.visible_apps(p):
        raise InvalidInput(f"domain {domain} is already used by another app")  # whose, is not this user's business


@click.command("domains:remove")
@app_argument()
@click.argument("domain")
@pass_ponton
def remove(p, app, domain):
    """Stop serving APP at DOMAIN."""
    domain = domain.lower()
    if domain not in p.state.domains(app):  # one added before a rule refused it (an IP address) can still go
        domain = validate.domain(domain)
    with p.locked(app):
        p.state.remove_domain(app, domain)
        with undone_on_failure(lambda: p.state.add_domain(app, domain)):
            routing.reroute(p, app)
        p.event(app, "domains", f"removed {domain}")
    click.echo(f"-----> Removed {domain} from {app}")


@click.command("domains:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """List the domains APP answers to."""
    domains = p.domains(app)
    emit(fmt, domains, "\n".join(domains))


@click.command("domains:set-global")
@click.argument("domain")
@pass_ponton
def set_global(p, domain):
    """Serve every app at APP.DOMAIN."""
    domain = validate.domain(domain)
    clashes = [d for other in p.state.apps() for d in p.state.domains(other.name) if validate.is_under(d, domain)]
    if clashes:
        raise InvalidInput(f"custom domains {', '.join(clashes)} would clash with the APP.{domain} names: remove them")
    previous = p.state.setting("domain", None)
    p.state.set_setting("domain", domain)
    rerouted = []

    def undo():  # every app back to the domain it had: those already moved, too
        p.state.set_setting("domain", previous)
        for app in rerouted:
            with p.locked(app):
                routing.reroute(p, app)

    with undone_on_failure(undo):
        for app in p.state.apps():
            with p.locked(app.name):
                routing.reroute(p, app.name)
            rerouted.append(app.name)
        routing.route_web(p)  # ponton.DOMAIN moves too
    click.echo(f"-----> Apps are now served at APP.{domain}")


COMMANDS = [add, remove, report, set_global]

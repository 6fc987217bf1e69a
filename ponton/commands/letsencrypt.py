"""letsencrypt:set, letsencrypt:enable, letsencrypt:disable, letsencrypt:renew, letsencrypt:list."""

import click

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state import LetsEncrypt
from ponton.core.undo import undone_on_failure
from ponton.features import certs, letsencrypt, portmaps
from ponton.output import app_argument, emit, format_option, pass_ponton, table, when
from ponton.pipeline import certificates


@click.command("letsencrypt:set")
@click.option("--global", "global_", is_flag=True, required=True, help="Required: these settings are server-wide.")
@click.argument("key", type=click.Choice(sorted(letsencrypt.GLOBAL_KEYS)))
@click.argument("value")
@pass_ponton
def set_(p, global_, key, value):
    """Set the ACME account's email, or the ACME server (a directory URL, `production` or `staging`)."""
    value = letsencrypt.check_global(key, value)
    p.state.set_setting(letsencrypt.GLOBAL_KEYS[key], value)
    click.echo(f"-----> Let's Encrypt {key} = {value}")


@click.command("letsencrypt:enable")
@app_argument()
@pass_ponton
def enable(p, app):
    """Get a certificate for APP's domains now, and keep it renewed (the watchdog renews 30 days before expiry)."""
    with p.locked(app):
        if p.state.letsencrypt(app) is None and certs.installed(p.settings.state_dir, app) is not None:
            raise InvalidInput(f"{app} has a certificate of its own: `ponton certs:remove {app}` first")
        click.echo(f"-----> Requesting a certificate for {', '.join(p.domains(app))}")
        p.state.set_letsencrypt(app, "pending")
        with undone_on_failure(lambda: p.state.set_letsencrypt(app, None)):  # the app is served as before
            certificate = certificates.renew_letsencrypt(p, app)
    click.echo(f"-----> {app} is served over HTTPS until {certificate.not_after:%Y-%m-%d}, renewed automatically")


@click.command("letsencrypt:renew")
@app_argument()
@pass_ponton
def renew(p, app):
    """Renew APP's certificate now (the old one keeps serving if this fails)."""
    with p.locked(app):
        if p.state.letsencrypt(app) is None:
            raise NotFound(f"Let's Encrypt is not enabled for {app}: `ponton letsencrypt:enable {app}`")
        certificate = certificates.renew_letsencrypt(p, app)
    click.echo(f"-----> Renewed the certificate of {app}: valid until {certificate.not_after:%Y-%m-%d}")


@click.command("letsencrypt:disable")
@app_argument()
@pass_ponton
def disable(p, app):
    """Stop renewing APP's certificate and remove it: APP is served over plain HTTP again."""
    with p.locked(app):
        if p.state.letsencrypt(app) is None:
            raise NotFound(f"Let's Encrypt is not enabled for {app}")
        portmaps.require_no_tls_ports(p, app)
        certificates.install(p, app, None)
        p.state.set_letsencrypt(app, None)
        p.event(app, "letsencrypt", "disabled; certificate removed")
    click.echo(f"-----> Let's Encrypt disabled for {app}")


@click.command("letsencrypt:list")
@format_option
@pass_ponton
def list_(p, fmt):
    """List the apps with Let's Encrypt: expiry, status, the last error and the next retry."""
    data = [status(p, issuance) for issuance in p.state.letsencrypt_apps()]
    rows = [[d["app"], d["status"], d["expires"] or "-", d["days_left"] if d["expires"] else "-",
             d["retry_at"] or "-", d["error"] or "-"] for d in data]
    text = table(rows, ["app", "status", "expires", "days left", "next try", "last error"]) if data else \
        "no app uses Let's Encrypt: `ponton letsencrypt:enable APP`"
    emit(fmt, data, text)


def status(p, issuance: LetsEncrypt) -> dict:
    """One app's Let's Encrypt status, as letsencrypt:list and `ponton report` show it."""
    certificate = certs.installed(p.settings.state_dir, issuance.app)
    return {
        "app": issuance.app,
        "status": issuance.status,
        "expires": when(certificate.not_after.timestamp()) if certificate else None,
        "days_left": int(certificate.days_left()) if certificate else None,
        "error": issuance.last_error,
        "failures": issuance.failures,
        "retry_at": when(issuance.retry_after) if issuance.retry_after else None,
    }


COMMANDS = [set_, enable, renew, disable, list_]

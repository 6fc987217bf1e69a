"""letsencrypt:set, letsencrypt:enable, letsencrypt:disable, letsencrypt:renew, letsencrypt:list, and
letsencrypt:enable-dashboard and letsencrypt:disable-dashboard for the web face (ponton.DOMAIN)."""

import click

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state import LetsEncrypt
from ponton.core.undo import undone_on_failure
from ponton.features import certs, letsencrypt, portmaps, webhost
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
    certificate = _enable(certificates.app(p, app), f"{app} has a certificate of its own: `ponton certs:remove {app}`")
    click.echo(f"-----> {app} is served over HTTPS until {certificate.not_after:%Y-%m-%d}, renewed automatically")


@click.command("letsencrypt:enable-dashboard")
@pass_ponton
def enable_dashboard(p):
    """Get a certificate for the web face (ponton.DOMAIN: dashboard, API, git over HTTPS) now, and keep it
    renewed; HTTP then redirects to HTTPS."""
    certificate = _enable(certificates.web(p), "the dashboard has a certificate of its own: "
                                               "`ponton certs:remove-dashboard`")
    click.echo(f"-----> {webhost.url(p)} is served over HTTPS until {certificate.not_after:%Y-%m-%d}, "
               f"renewed automatically")


def _enable(subject: certificates.Subject, has_own: str):
    """Issue the subject's first certificate (or a new one), recording it as Let's Encrypt's; if that fails it is
    served as before."""
    p = subject.p
    with p.locked(subject.cert_name):
        if subject.issuance() is None and subject.installed() is not None:
            raise InvalidInput(f"{has_own} first")
        click.echo(f"-----> Requesting a certificate for {', '.join(subject.domains())}")
        subject.record("pending")
        with undone_on_failure(lambda: subject.record(None)):
            return certificates.renew_letsencrypt(subject)


@click.command("letsencrypt:renew")
@app_argument()
@pass_ponton
def renew(p, app):
    """Renew APP's certificate now (the old one keeps serving if this fails)."""
    with p.locked(app):
        if p.state.letsencrypt(app) is None:
            raise NotFound(f"Let's Encrypt is not enabled for {app}: `ponton letsencrypt:enable {app}`")
        certificate = certificates.renew_letsencrypt(certificates.app(p, app))
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


@click.command("letsencrypt:disable-dashboard")
@pass_ponton
def disable_dashboard(p):
    """Stop renewing the web face's certificate and remove it: ponton.DOMAIN is served over plain HTTP again."""
    subject = certificates.web(p)
    with p.locked(subject.cert_name):
        if subject.issuance() is None:
            raise NotFound("Let's Encrypt is not enabled for the dashboard")
        subject.install(None)
        subject.record(None)
    click.echo(f"-----> Let's Encrypt disabled for the dashboard: it is served at {webhost.url(p)}")


@click.command("letsencrypt:list")
@format_option
@pass_ponton
def list_(p, fmt):
    """List the apps with Let's Encrypt (and the dashboard, as `ponton`): expiry, status, the last error and the
    next retry."""
    data = [status(p, issuance) for issuance in certificates.issuances(p)]
    rows = [[d["app"], d["status"], d["expires"] or "-", d["days_left"] if d["expires"] else "-",
             d["retry_at"] or "-", d["error"] or "-"] for d in data]
    text = table(rows, ["app", "status", "expires", "days left", "next try", "last error"]) if data else \
        "no app uses Let's Encrypt: `ponton letsencrypt:enable APP`"
    emit(fmt, data, text)


def status(p, issuance: LetsEncrypt) -> dict:
    """One app's (or the dashboard's) Let's Encrypt status, as letsencrypt:list and `ponton report` show it."""
    web = issuance.app == webhost.LABEL  # no app has the name
    certificate = certs.installed(p.settings.state_dir, webhost.CERT_NAME if web else issuance.app)
    return {
        "app": issuance.app,
        "status": issuance.status,
        "expires": when(certificate.not_after.timestamp()) if certificate else None,
        "days_left": int(certificate.days_left()) if certificate else None,
        "error": issuance.last_error,
        "failures": issuance.failures,
        "retry_at": when(issuance.retry_after) if issuance.retry_after else None,
    }


COMMANDS = [set_, enable, renew, disable, list_, enable_dashboard, disable_dashboard]

"""certs:add, certs:remove, certs:report: an app's own TLS certificate, served by nginx on the HTTPS port."""

import sys

import click

from ponton.core.errors import InvalidInput, NotFound
from ponton.features import certs, portmaps, webhost
from ponton.output import app_argument, emit, format_option, pass_ponton, table
from ponton.pipeline import certificates


@click.command("certs:add", context_settings={"allow_extra_args": True})  # file names: refused below
@app_argument()
@click.pass_context
@pass_ponton
def add(p, ctx, app):
    """Serve APP over HTTPS with the certificate and key read on stdin.

    Stdin holds the PEM chain (leaf first) and its private key, or a tarball of server.crt and server.key
    (as Dokku takes it): `cat server.crt server.key | ssh ponton@HOST certs:add APP` or
    `tar c server.crt server.key | ssh ponton@HOST certs:add APP`. On the server, root may name the files:
    `ponton certs:add APP server.crt server.key` (the installed `ponton` reads them and passes them on stdin).
    """
    if ctx.args:
        raise InvalidInput(f"certs:add reads the certificate and key on stdin, it opens no file: "
                           f"`cat CERT KEY | ponton certs:add {app}`")
    if sys.stdin.isatty():
        raise InvalidInput(f"give the certificate and key on stdin: `cat CERT KEY | ponton certs:add {app}`")
    with p.locked(app):
        if p.state.letsencrypt(app) is not None:  # (raises NotFound for no such app) before stdin is read
            raise InvalidInput(f"Let's Encrypt manages the certificate of {app}: `ponton letsencrypt:disable {app}` first")
        pair = certs.from_stdin(sys.stdin.buffer.read(certs.MAX_INPUT + 1))
        certificate = certs.check(*pair, p.domains(app))
        certificates.install(p, app, pair)
        p.event(app, "certs", f"added certificate for {', '.join(certificate.names)} "
                              f"(expires {certificate.not_after:%Y-%m-%d})")
    click.echo(f"-----> {app} is served over HTTPS for {', '.join(certificate.names)} "
               f"until {certificate.not_after:%Y-%m-%d}")


@click.command("certs:remove")
@app_argument()
@pass_ponton
def remove(p, app):
    """Stop serving APP over HTTPS and remove its certificate."""
    with p.locked(app):
        if certs.installed(p.settings.state_dir, app) is None:
            raise NotFound(f"app {app} has no certificate")
        if p.state.letsencrypt(app) is not None:
            raise InvalidInput(f"Let's Encrypt manages the certificate of {app}: `ponton letsencrypt:disable {app}`")
        portmaps.require_no_tls_ports(p, app)
        certificates.install(p, app, None)
        p.event(app, "certs", "removed the certificate")
    click.echo(f"-----> {app} is no longer served over HTTPS")


@click.command("certs:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """Show APP's certificate: subject, names, issuer, expiry."""
    p.state.app_id(app)
    certificate = certs.installed(p.settings.state_dir, app)
    if certificate is None:
        emit(fmt, None, f"{app} has no certificate: `cat CERT KEY | ponton certs:add {app}` or "
                        f"`ponton letsencrypt:enable {app}`")
        return
    data = {**certificate.summary(), "days_left": int(certificate.days_left()),
            "source": "letsencrypt" if p.state.letsencrypt(app) is not None else "custom"}
    rows = [[k, ", ".join(v) if isinstance(v, list) else v] for k, v in data.items()]
    emit(fmt, data, table(rows, ["field", "value"]))


@click.command("certs:add-dashboard")
@pass_ponton
def add_dashboard(p):
    """Serve the dashboard, API and git over HTTPS (ponton.DOMAIN) with the certificate and key read on stdin,
    as certs:add takes them; HTTP then redirects to HTTPS."""
    if sys.stdin.isatty():
        raise InvalidInput("give the certificate and key on stdin: `cat CERT KEY | ponton certs:add-dashboard`")
    with p.locked(webhost.CERT_NAME):
        _not_letsencrypts(p)
        pair = certs.from_stdin(sys.stdin.buffer.read(certs.MAX_INPUT + 1))
        certificate = certs.check(*pair, [webhost.host(p)])
        certificates.install_web(p, pair)
    click.echo(f"-----> {webhost.url(p)} is served over HTTPS until {certificate.not_after:%Y-%m-%d}")


@click.command("certs:remove-dashboard")
@pass_ponton
def remove_dashboard(p):
    """Serve the dashboard over plain HTTP again, and remove its certificate."""
    with p.locked(webhost.CERT_NAME):
        if webhost.tls(p) is None:
            raise NotFound("the dashboard has no certificate")
        _not_letsencrypts(p)
        certificates.install_web(p, None)
    click.echo(f"-----> The dashboard is served at {webhost.url(p)}")


def _not_letsencrypts(p):
    if certificates.web(p).issuance() is not None:
        raise InvalidInput("Let's Encrypt manages the dashboard's certificate: "
                           "`ponton letsencrypt:disable-dashboard` first")


COMMANDS = [add, remove, report, add_dashboard, remove_dashboard]

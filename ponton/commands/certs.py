"""certs:add, certs:remove, certs:report: an app's own TLS certificate, served by nginx on the HTTPS port."""

import sys

import click

from ponton import certs, ports
from ponton.errors import InvalidInput, NotFound
from ponton.output import app_argument, emit, format_option, pass_ponton, table


@click.command("certs:add")
@app_argument()
@click.argument("cert_file", metavar="[CERT", type=click.File("rb"), required=False)
@click.argument("key_file", metavar="KEY]", type=click.File("rb"), required=False)
@pass_ponton
def add(p, app, cert_file, key_file):
    """Serve APP over HTTPS with the certificate CERT (PEM chain, leaf first) and its key KEY.

    Without files, reads a tarball of server.crt and server.key on stdin (as Dokku does):
    `tar c server.crt server.key | ssh ponton@HOST certs:add APP`.
    """
    if (cert_file is None) != (key_file is None):
        raise InvalidInput("give both CERT and KEY, or neither and a tarball on stdin")
    if cert_file is None:
        if sys.stdin.isatty():
            raise InvalidInput("give CERT and KEY files, or a tarball of server.crt and server.key on stdin")
        pair = certs.from_tar(sys.stdin.buffer.read())
    else:
        pair = cert_file.read(), key_file.read()
    with p.locked(app):
        if p.state.letsencrypt(app) is not None:
            raise InvalidInput(f"Let's Encrypt manages the certificate of {app}: `ponton letsencrypt:disable {app}` first")
        certificate = certs.check(*pair, p.domains(app))
        certs.install(p, app, pair)
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
        ports.require_no_tls_ports(p, app)
        certs.install(p, app, None)
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
        emit(fmt, None, f"{app} has no certificate: `ponton certs:add {app} CERT KEY` or "
                        f"`ponton letsencrypt:enable {app}`")
        return
    data = {**certificate.summary(), "days_left": int(certificate.days_left()),
            "source": "letsencrypt" if p.state.letsencrypt(app) is not None else "custom"}
    rows = [[k, ", ".join(v) if isinstance(v, list) else v] for k, v in data.items()]
    emit(fmt, data, table(rows, ["field", "value"]))


COMMANDS = [add, remove, report]

"""An app's certificate in the live proxy: one given with certs:add, or issued and renewed by Let's Encrypt."""

import time

from ponton.core.context import Ponton
from ponton.core.errors import InvalidInput, PontonError
from ponton.core.undo import undone_on_failure
from ponton.features import certs, letsencrypt, webhost
from ponton.pipeline import routing


def install(p: Ponton, app: str, pair: tuple[bytes, bytes] | None):
    """Make `pair` the app's certificate (None: remove it) in the live proxy at once; if the proxy refuses,
    the previous certificate stays. Callers hold the app's lock."""
    _install(p, app, pair, lambda: routing.reroute(p, app))


def install_web(p: Ponton, pair: tuple[bytes, bytes] | None):
    """The same for the web face's certificate (ponton.DOMAIN)."""
    _install(p, webhost.CERT_NAME, pair, lambda: routing.route_web(p))


def _install(p: Ponton, name: str, pair: tuple[bytes, bytes] | None, apply):
    previous = certs.read(p.settings.state_dir, name)
    certs.store(p.settings.state_dir, name, pair)
    with undone_on_failure(lambda: certs.store(p.settings.state_dir, name, previous)):
        apply()


def renew_letsencrypt(p: Ponton, app: str) -> certs.Certificate:
    """Issue a certificate for the app's domains now and install it; record the outcome (a failure backs off
    and keeps the installed certificate). Callers hold the app's lock."""
    values = letsencrypt.global_settings(p.state)
    if not values["email"]:
        raise InvalidInput("set the account email first: `ponton letsencrypt:set --global email you@example.com`")
    issuance = p.state.letsencrypt(app)
    domains = p.domains(app)
    try:
        pair = letsencrypt.issue(p.settings, values["server"], values["email"], domains)
        certificate = certs.check(*pair, domains)
        install(p, app, pair)
    except PontonError as e:
        failures = (issuance.failures if issuance else 0) + 1
        delay = letsencrypt.backoff(failures)
        p.state.set_letsencrypt(app, "failed", str(e), failures, time.time() + delay)
        p.event(app, "letsencrypt", f"issuing a certificate failed (next try in {delay:.0f}s): {e}")
        raise
    p.state.set_letsencrypt(app, "valid")
    p.event(app, "letsencrypt", f"certificate issued for {', '.join(certificate.names)} "
                                f"(expires {certificate.not_after:%Y-%m-%d})")
    return certificate

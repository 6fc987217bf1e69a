"""A certificate in the live proxy: an app's, or the web face's (ponton.DOMAIN); one given with certs:add (or
certs:add-dashboard), or issued and renewed by Let's Encrypt. Both have the same issuance and renewal: a
Subject says what is an app's own and what is the web face's."""

import json
import time
from dataclasses import dataclass

from ponton.core.context import Ponton
from ponton.core.errors import InvalidInput, PontonError
from ponton.core.state import LetsEncrypt
from ponton.core.undo import undone_on_failure
from ponton.features import certs, letsencrypt, webhost
from ponton.pipeline import routing

WEB_ISSUANCE = "letsencrypt_web"  # the web face's Let's Encrypt issuance: a server-wide setting, as JSON


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


@dataclass
class Subject:
    """What a certificate is for: an app (name: the app's), or the web face (name: webhost.LABEL)."""
    p: Ponton
    name: str
    web: bool = False

    @property
    def cert_name(self) -> str:
        """Its certificate's name in the state, and its lock's: the app's, or one no app can have."""
        return webhost.CERT_NAME if self.web else self.name

    def domains(self) -> list[str]:
        return [webhost.host(self.p)] if self.web else self.p.domains(self.name)

    def installed(self) -> certs.Certificate | None:
        return certs.installed(self.p.settings.state_dir, self.cert_name)

    def install(self, pair: tuple[bytes, bytes] | None):
        if self.web:
            install_web(self.p, pair)
        else:
            install(self.p, self.name, pair)

    def issuance(self) -> LetsEncrypt | None:
        if not self.web:
            return self.p.state.letsencrypt(self.name)
        saved = self.p.state.setting(WEB_ISSUANCE, "")
        return LetsEncrypt(app=self.name, **json.loads(saved)) if saved else None

    def record(self, status: str | None, error: str = "", failures: int = 0, retry_after: float = 0.0):
        """Record the outcome of the last issuance (None: Let's Encrypt disabled)."""
        if not self.web:
            return self.p.state.set_letsencrypt(self.name, status, error, failures, retry_after)
        self.p.state.set_setting(WEB_ISSUANCE, None if status is None else json.dumps(
            {"status": status, "last_error": error, "failures": failures, "retry_after": retry_after,
             "updated": time.time()}))

    def event(self, message: str):
        if not self.web:  # the web face is no app: it has no events; its command and the watchdog say it
            self.p.event(self.name, "letsencrypt", message)


def app(p: Ponton, name: str) -> Subject:
    return Subject(p, name)


def web(p: Ponton) -> Subject:
    return Subject(p, webhost.LABEL, web=True)


def issuances(p: Ponton) -> list[LetsEncrypt]:
    """Every issuance Let's Encrypt keeps renewed: the apps', and the web face's (named webhost.LABEL)."""
    return p.state.letsencrypt_apps() + [issuance for issuance in [web(p).issuance()] if issuance]


def renew_letsencrypt(subject: Subject) -> certs.Certificate:
    """Issue a certificate for the subject's domains now and install it; record the outcome (a failure backs off
    and keeps the installed certificate). Callers hold the subject's lock."""
    p = subject.p
    values = letsencrypt.global_settings(p.state)
    if not values["email"]:
        raise InvalidInput("set the account email first: `ponton letsencrypt:set --global email you@example.com`")
    issuance = subject.issuance()
    domains = subject.domains()
    try:
        pair = letsencrypt.issue(p.settings, values["server"], values["email"], domains)
        certificate = certs.check(*pair, domains)
        subject.install(pair)
    except PontonError as e:
        failures = (issuance.failures if issuance else 0) + 1
        delay = letsencrypt.backoff(failures)
        subject.record("failed", str(e), failures, time.time() + delay)
        subject.event(f"issuing a certificate failed (next try in {delay:.0f}s): {e}")
        raise
    subject.record("valid")
    subject.event(f"certificate issued for {', '.join(certificate.names)} (expires {certificate.not_after:%Y-%m-%d})")
    return certificate

"""What the proxy does for an app beyond routing its domains over HTTP: TLS, the HTTP->HTTPS redirect, HSTS and
extra ports (proxy:set). Built from the state as the hook API's AppProxy, handed to the `proxy_update` hook."""

import hashlib

from ponton.core import validate
from ponton.core.errors import InvalidInput
from ponton.core.hookspecs import AppProxy, PortRoute, Tls
from ponton.features import certs

MAX_HSTS_AGE = 10 * 365 * 86400
TRUE, FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")


def _boolean(value: str) -> bool:
    if value.lower() not in TRUE + FALSE:
        raise InvalidInput(f"expected true or false, got {validate.shown(value)}")
    return value.lower() in TRUE


def _seconds(value: str) -> int:
    return validate.number(value, 0, MAX_HSTS_AGE, "number of seconds")


# knob -> (parser, default, help)
KNOBS = {
    "https-redirect": (_boolean, True, "redirect HTTP to HTTPS once the app has a certificate"),
    "hsts": (_boolean, False, "send Strict-Transport-Security over HTTPS (browsers then refuse plain HTTP)"),
    "hsts-max-age": (_seconds, 31536000, "seconds browsers remember HSTS"),
}


def check(key: str, value: str | None) -> str | None:
    """The value to store for knob `key` (None: the default), or InvalidInput."""
    return validate.setting(key, value, {name: parse for name, (parse, _, _) in KNOBS.items()}, "proxy setting")


def knobs(values: dict[str, str]) -> dict[str, object]:
    """Every knob's effective value, by name."""
    return {key: parse(values[key]) if key in values else default for key, (parse, default, _) in KNOBS.items()}


def tls(state_dir, name: str) -> Tls | None:
    """The certificate installed for `name` (an app, or the web face), as the proxy is given it."""
    where = certs.directory(state_dir, name)
    if not (where / certs.CERT_FILE).exists():
        return None
    digest = hashlib.sha256((where / certs.CERT_FILE).read_bytes()).hexdigest()[:16]
    return Tls(where / certs.CERT_FILE, where / certs.KEY_FILE, digest)


def for_app(p, app: str, ports: tuple[PortRoute, ...] = ()) -> AppProxy:
    values = knobs(p.state.proxy_settings(app))
    return AppProxy(
        tls=tls(p.settings.state_dir, app), https_redirect=values["https-redirect"], hsts=values["hsts"], hsts_max_age=values["hsts-max-age"],
        acme_dir=p.settings.acme_dir, ports=ports,
    )

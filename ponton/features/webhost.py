"""Where the web face (API, dashboard, git over HTTPS) is served: at ponton.DOMAIN, by nginx, from `ponton web`
on 127.0.0.1:web_port; over HTTPS once it has a certificate (certs:add-dashboard), HTTP then redirecting to it."""

from ponton.core.hookspecs import Tls
from ponton.features import proxysettings

LABEL = "ponton"  # the host's first label; validate.RESERVED_APPS keeps apps from taking the name
CERT_NAME = "_web"  # its certificate sits beside the apps' (STATE_DIR/tls/_web), under a name no app can have


def host(p) -> str:
    return f"{LABEL}.{p.global_domain()}"


def tls(p) -> Tls | None:
    return proxysettings.tls(p.settings.state_dir, CERT_NAME)


def url(p) -> str:
    """The web face's address, as people open it."""
    if tls(p) is not None:
        port = "" if p.settings.https_port == 443 else f":{p.settings.https_port}"
        return f"https://{host(p)}{port}"
    port = "" if p.settings.http_port == 80 else f":{p.settings.http_port}"
    return f"http://{host(p)}{port}"

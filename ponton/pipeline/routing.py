"""What the proxy serves for an app: its domains routed to the web instances that serve it now, with its TLS,
proxy settings and extra ports, handed to the plugins' `proxy_update` hook."""

import time

from ponton.core.context import Ponton
from ponton.core.scheduler import Instance
from ponton.core.state import Release
from ponton.features import portmaps, proxysettings, webhost
from ponton.features.strategy import strategy_of
from runtime.rollout import canary_weights
from runtime.spec import WEB


def route(p: Ponton, app: str, instances: list[Instance], weights: dict[Instance, int] | None = None):
    """Send the app's requests to these web instances, weighted by `weights` (None: equal shares): the proxy
    gets each one's address (HOST:PORT, wherever it runs). Returns once the previous routing drained."""
    backends = [i.address for i in instances]
    p.hooks.proxy_update(
        settings=p.settings, app=app, domains=p.domains(app), backends=backends,
        weights={i.address: share for i, share in weights.items()} if weights else None,
        proxy=proxysettings.for_app(p, app, portmaps.routes(p, app, instances, weights)),
    )
    share(p)


def share(p: Ponton):
    """Have a cluster's other ingress nodes serve the routes this server's proxy serves now; returns once they
    do (on one server, at once)."""
    p.scheduler.serve_routes(lambda origin: p.hooks.proxy_export(settings=p.settings, origin=origin))


def route_web(p: Ponton):
    """Have the proxy serve the web face at ponton.DOMAIN (over HTTPS if it has a certificate)."""
    p.hooks.web_update(settings=p.settings, domain=webhost.host(p), port=p.settings.web_port, tls=webhost.tls(p))


def reroute(p: Ponton, app: str, starting: frozenset[str] = frozenset(), instances: list[Instance] | None = None):
    """Route the app's domains to the web instances that serve it now (after a domain change, or to mend
    drift, or as a canary moves to its next step): the current release's, plus a canary's with its share now;
    never a blue-green standby. Instances whose ids are in `starting` (restarted by the engine, not answering
    yet) are left out while another one serves. `instances`: the app's, if the caller just listed them."""
    current = p.state.current_release(app)
    record = p.state.app(app)
    canary = record.canary_version
    instances = p.scheduler.instances(app) if instances is None else instances
    web = [i for i in instances if i.process == WEB and i.port]
    serving = [i for i in web if current and i.release in identical(p, app, current)]
    serving = [i for i in serving if i.id not in starting] or serving
    trial = [i for i in web if canary is not None and i.release == canary]
    share = strategy_of(p, app).canary_share(record.canary_until, time.time())
    route(p, app, serving + trial, canary_weights(serving, trial, share))


def identical(p: Ponton, app: str, release: Release) -> frozenset[int]:
    """Versions of releases with the same image, config, processes and checks: their instances are alike."""
    return frozenset(r.version for r in p.state.releases(app) if _same_code_and_config(r, release))


def _same_code_and_config(a: Release, b: Release) -> bool:
    return (a.image, a.config, a.processes, a.healthchecks) == (b.image, b.config, b.processes, b.healthchecks)

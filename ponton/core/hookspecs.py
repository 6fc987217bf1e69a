"""The hook API. Built-in features (the nginx proxy) implement it exactly as a third-party plugin would.

Third-party plugins are Python modules or objects registered under the `ponton.plugins` entry-point group.
Hooks are called with keyword arguments; implementations take any subset of them.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pluggy

hookspec = pluggy.HookspecMarker("ponton")
hookimpl = pluggy.HookimplMarker("ponton")


# The data hooks are given: plain values, so that a plugin depends on nothing but this module.

@dataclass(frozen=True)
class Tls:
    certificate: Path  # PEM chain, leaf first
    key: Path
    version: str  # a digest of the certificate: a renewed one (same paths) still changes the proxy's config


@dataclass(frozen=True)
class PortRoute:
    """An extra port: nginx listens on `host_port` and forwards `scheme` traffic to `container_port` of the
    web instances, reached on `backends` (HOST:PORT where each publishes it), with `weights` by backend (a
    canary)."""

    scheme: str  # http, https, grpc, grpcs, tcp, udp
    host_port: int
    container_port: int
    backends: tuple[str, ...] = ()
    weights: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AppProxy:
    tls: Tls | None = None
    https_redirect: bool = True
    hsts: bool = False
    hsts_max_age: int = 31536000
    acme_dir: Path | None = None  # served at /.well-known/acme-challenge/ on every HTTP server block
    ports: tuple[PortRoute, ...] = field(default_factory=tuple)


@hookspec
def ponton_commands():
    """Return a list of click commands to add to the `ponton` CLI."""


@hookspec
def proxy_update(settings, app, domains, backends, weights, proxy):
    """Route HTTP for `domains` to `backends`, the addresses (HOST:PORT, like 127.0.0.1:20001) of healthy web
    instances: on one server loopback ports, in a cluster ports on the nodes' addresses.

    `weights` maps a backend to its share of requests (a canary); None means equal shares.
    `proxy` (an AppProxy) says what else to serve: HTTPS with the app's certificate, the
    HTTP->HTTPS redirect, HSTS, the ACME challenge directory, extra ports (tcp, udp, grpc...).
    An empty list means the app has nothing to serve. Must not leave the live proxy broken: validate the new
    configuration first and raise ProxyError if it is refused.
    """


@hookspec
def proxy_remove(settings, app):
    """Stop routing anything to `app` (it was destroyed or renamed)."""


@hookspec(firstresult=True)
def proxy_export(settings, origin):
    """Return the proxy's routes as another node's proxy serves them (a cluster's other ingress nodes): {PATH:
    BYTES}, the files runtime/ingress.py hands to those nodes, taken in one piece (never half of a change).
    `origin` (HOST:PORT) is this server's HTTP address, where the copy sends what only this server can answer
    (the ACME challenges it writes). None: the proxy serves this server only."""


# A request to the web face is carried by a process of the proxy (an nginx worker) until the command it runs
# ends. The proxy names that process in the CARRIER_HEADER it adds to the request, and the web face passes it on
# to the command in CARRIER_ENV: an update of the proxy that waits for its old processes to finish their requests
# must not wait for this one, which cannot finish before the command does (and the command waits for the update).
CARRIER_HEADER = "x-ponton-carrier"
CARRIER_ENV = "PONTON_PROXY_CARRIER"


@hookspec
def web_update(settings, domain, port, tls):
    """Serve the web face (`ponton web`: API, dashboard, git over HTTPS) at `domain`, passing requests to
    127.0.0.1:`port` as they come (progress, logs and pushes stream both ways; the web bounds their sizes), each
    with a CARRIER_HEADER naming the proxy's process that carries it. With `tls` (a Tls), serve it over HTTPS
    and redirect HTTP there; None: HTTP only."""


@hookspec
def post_deploy(settings, app, release):
    """Called after `release` of `app` rolled out successfully."""


@hookspec
def app_networks(settings, app):
    """Return the names of networks, besides its own, that every container of `app` joins before it starts
    (instances and one-off containers alike): those of the backing services linked to it."""


@hookspec
def watchdog_round(settings, log):
    """Called by the watchdog every round (every interval, and at once when the engine is back), in a thread of
    its own and never twice at a time: bring what the plugin runs to its recorded state and run what is due (a
    backing service's container and health, its scheduled backups). `log(line)` writes to the watchdog's journal.
    May take long; one thing's trouble must not stop the others (the watchdog logs what it raises)."""


@hookspec
def report_sections(settings):
    """Return {SECTION: [ROW, ...]} (each ROW a dict of the same keys) for `ponton report`: what the plugin runs
    and what is wrong with it (a failed backup)."""

"""The hook API. Built-in features (the nginx proxy) implement it exactly as a third-party plugin would.

Third-party plugins are Python modules or objects registered under the `ponton.plugins` entry-point group.
Hooks are called with keyword arguments; implementations take any subset of them.
"""

import pluggy

hookspec = pluggy.HookspecMarker("ponton")
hookimpl = pluggy.HookimplMarker("ponton")


@hookspec
def ponton_commands():
    """Return a list of click commands to add to the `ponton` CLI."""


@hookspec
def proxy_update(settings, app, domains, backends, weights, proxy):
    """Route HTTP for `domains` to `backends`, a list of loopback ports of healthy web instances.

    `weights` maps a port to its share of requests (a canary); None means equal shares.
    `proxy` (a ponton.proxy.AppProxy) says what else to serve: HTTPS with the app's certificate, the
    HTTP->HTTPS redirect, HSTS, the ACME challenge directory, extra ports (tcp, udp, grpc...).
    An empty list means the app has nothing to serve. Must not leave the live proxy broken: validate the new
    configuration first and raise ProxyError if it is refused.
    """


@hookspec
def proxy_remove(settings, app):
    """Stop routing anything to `app` (it was destroyed or renamed)."""


@hookspec
def post_deploy(settings, app, release):
    """Called after `release` of `app` rolled out successfully."""

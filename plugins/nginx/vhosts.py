"""Pure builders: the nginx configuration text for one app, and the part every app shares."""

import functools

from ponton.core.hookspecs import AppProxy


def render_vhost(settings, app: str, domains: list[str], backends: list[str], weights: dict[str, int] | None,
                 proxy: AppProxy) -> str:
    """The app's server blocks: HTTP (and HTTPS with its certificate) for its domains."""
    return _render(
        "vhost.conf.j2", app=app, domains=domains, backends=backends, weights=weights or {}, proxy=proxy,
        keepalive=all(backend.startswith("127.") for backend in backends),
        http_port=settings.http_port, https_port=settings.https_port, log_dir=settings.nginx_log_dir,
        https_suffix="" if settings.https_port == 443 else f":{settings.https_port}",
    )


def render_web(settings, domain: str, port: int, tls) -> str:
    """The web face's server blocks: `domain` passed to `ponton web` on 127.0.0.1:`port`."""
    return _render(
        "web.conf.j2", domain=domain, port=port, tls=tls, http_port=settings.http_port,
        https_port=settings.https_port, acme_dir=settings.acme_dir,
        https_suffix="" if settings.https_port == 443 else f":{settings.https_port}",
    )


def upstream(app: str, *parts) -> str:
    """The name of one of the app's upstreams (its web instances; those of an extra port: its scheme and host port).
    The parts are joined with `_`, which app names cannot contain, so no two apps' names can ever be equal (with
    `-`, app `a` with port 8080 and an app named `a-8080` both had `ponton-a-8080`, and nginx refused the second)."""
    return "_".join(("ponton", app, *map(str, parts)))


STREAM_SCHEMES = ("tcp", "udp")
UDP_SESSION_TIMEOUT = 10  # seconds without datagrams after which nginx forgets a UDP client


def render_stream(app: str, proxy: AppProxy) -> str | None:
    """The app's tcp and udp ports, for nginx's stream{} context; None if it has none."""
    routes = [route for route in proxy.ports if route.scheme in STREAM_SCHEMES]
    if not routes:
        return None
    return _render("stream.conf.j2", app=app, routes=routes, udp_timeout=UDP_SESSION_TIMEOUT)


def render_shared(settings) -> str:
    """Settings for every app's server blocks, and the servers answering names no app claims."""
    return _render("http.conf.j2", http_port=settings.http_port, https_port=settings.https_port,
                   acme_dir=settings.acme_dir)


def _render(template: str, **values) -> str:
    return _templates().get_template(template).render(**values)


@functools.cache
def _templates():
    """One environment per process, so each template is compiled once (a rollout routes at every swap, and
    compiling the vhost's took tens of milliseconds each time)."""
    import jinja2  # imported here: only commands that change routing pay for it

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("plugins.nginx", "."), trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )
    env.globals["upstream"] = upstream
    return env

"""Extra ports of an app (ports:add/remove/report): nginx listens on a host port and forwards one protocol to a
container port of the app's web instances.

Schemes: http and https (HTTP/1.1 and HTTP/2 with the app's certificate), grpc and grpcs (nginx's grpc_pass over
HTTP/2, cleartext or with the app's certificate), tcp and udp (nginx's stream module). A host port belongs to one
app per transport (tcp and udp may share a number). Each web container publishes every container port its app's
mappings name on a port of its own (on one server a loopback port from port_range, like the web port), and nginx's
upstream for a mapping lists those ports of the instances being routed to (HOST:PORT): it swaps with the web
upstream, instance by instance, in the same proxy_update.
"""

import errno
import socket
from dataclasses import dataclass

from ponton.core import validate
from ponton.core.errors import InvalidInput, NotFound
from ponton.core.hookspecs import PortRoute
from ponton.core.scheduler import Instance
from ponton.core.undo import undone_on_failure
from ponton.core.validate import shown
from ponton.features import access, certs
from runtime.spec import CONTAINER_PORT, WEB

# scheme -> transport of the host port and of the container port
SCHEMES = {"http": "tcp", "https": "tcp", "grpc": "tcp", "grpcs": "tcp", "tcp": "tcp", "udp": "udp"}
TLS_SCHEMES = ("https", "grpcs")


@dataclass(frozen=True)
class Mapping:
    scheme: str
    host_port: int
    container_port: int

    @property
    def protocol(self) -> str:
        return SCHEMES[self.scheme]

    @property
    def container_key(self) -> str:
        """Docker's name of the container port: 7000/udp."""
        return f"{self.container_port}/{self.protocol}"

    def __str__(self) -> str:
        return f"{self.scheme}:{self.host_port}:{self.container_port}"


def parse(text: str) -> Mapping:
    """SCHEME:HOST_PORT:CONTAINER_PORT, e.g. tcp:9000:7000."""
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidInput(f"expected SCHEME:HOST_PORT:CONTAINER_PORT (like tcp:9000:7000), got {shown(text)}")
    scheme, host, container = parts
    if scheme not in SCHEMES:
        raise InvalidInput(f"unknown scheme {shown(scheme)} in {shown(text)}: use one of {', '.join(SCHEMES)}")
    numbers = []
    for name, value in (("host port", host), ("container port", container)):
        numbers.append(validate.bounded(value, 1, 65535))
        if numbers[-1] is None:
            raise InvalidInput(f"invalid {name} {shown(value)} in {shown(text)}: use a whole number from 1 to 65535")
    return Mapping(scheme, *numbers)


def parse_all(texts: tuple[str, ...]) -> list[Mapping]:
    mappings = [parse(text) for text in texts]
    seen = set()
    for mapping in mappings:
        if (mapping.host_port, mapping.protocol) in seen:
            raise InvalidInput(f"host port {mapping.host_port}/{mapping.protocol} is given twice")
        seen.add((mapping.host_port, mapping.protocol))
    return mappings


def of_app(p, app: str) -> list[Mapping]:
    return [Mapping(port.scheme, port.host_port, port.container_port) for port in p.state.ports(app)]


def published(p, app: str) -> tuple[str, ...]:
    """The container ports (like 7000/udp) that the app's web containers publish besides the web port."""
    keys = {m.container_key for m in of_app(p, app)} - {f"{CONTAINER_PORT}/tcp"}
    return tuple(sorted(keys))


def check_available(p, app: str, mapping: Mapping):
    """Refuse a host port that ponton serves itself, that containers may get, that another mapping has, or that
    something on this server listens on now."""
    settings, port, protocol = p.settings, mapping.host_port, mapping.protocol
    if protocol == "tcp" and port in (settings.http_port, settings.https_port):
        which = "HTTP" if port == settings.http_port else "HTTPS"
        raise InvalidInput(f"host port {port} is ponton's {which} port: it serves every app by domain")
    low, high = settings.ports
    if low <= port <= high:
        raise InvalidInput(f"host port {port} is in {low}-{high} (setting port_range), where ponton publishes "
                           "containers: choose another")
    holder = next((mapped.app for mapped in p.state.ports() if (mapped.host_port, mapped.protocol) == (port, protocol)),
                  None)
    if holder is not None:
        whose = f"app {holder}" if holder == app or holder in access.visible_apps(p) else "another app"
        raise InvalidInput(f"host port {port}/{protocol} is already used by {whose}")
    if not bindable(port, protocol):
        raise InvalidInput(f"host port {port}/{protocol} is in use by another program on this server")
    if mapping.scheme in TLS_SCHEMES and certs.installed(settings.state_dir, app) is None:
        raise InvalidInput(f"{mapping} needs a certificate for {app}: `cat CERT KEY | ponton certs:add {app}` or "
                           f"`ponton letsencrypt:enable {app}` first")


def bindable(port: int, protocol: str) -> bool:
    """False if something listens on `port` (any address) now. A port below 1024 that only root may bind counts
    as free: nginx binds as root."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx: closed connections do not count
        try:
            s.bind(("0.0.0.0", port))
        except OSError as e:
            return e.errno != errno.EADDRINUSE
    return True


def tls_ports(p, app: str) -> list[Mapping]:
    """The app's mappings that need its certificate."""
    return [m for m in of_app(p, app) if m.scheme in TLS_SCHEMES]


def require_no_tls_ports(p, app: str):
    secure = tls_ports(p, app)
    if secure:
        raise InvalidInput(f"ports {', '.join(map(str, secure))} of {app} need its certificate: "
                           f"`ponton ports:remove {app} MAPPING` first")


def routes(p, app: str, instances: list[Instance], weights: dict[Instance, int] | None) -> tuple[PortRoute, ...]:
    """Each mapping of the app with its backends: for each of the web `instances` being routed to, HOST:PORT
    where it publishes the mapping's container port (weighted as the instance)."""
    mappings = of_app(p, app)
    result = []
    for mapping in mappings:
        backends, shares = [], {}
        for instance in instances:
            port = instance.published(mapping.container_key)
            if port is not None:
                backends.append(f"{instance.host}:{port}")
                if weights and instance in weights:
                    shares[backends[-1]] = weights[instance]
        result.append(PortRoute(mapping.scheme, mapping.host_port, mapping.container_port, tuple(backends), shares))
    return tuple(result)


def record(p, app: str, mappings: list[Mapping]):
    """Add `mappings` to the app's state: all of them, or none if one fails."""
    added = []
    with undone_on_failure(lambda: _delete(p, app, added)):
        for mapping in mappings:
            p.state.add_port(app, mapping.scheme, mapping.host_port, mapping.protocol, mapping.container_port)
            added.append(mapping)


def forget(p, app: str, mappings: list[Mapping]):
    """Remove `mappings` from the app's state; refused, with nothing removed, if one is not the app's."""
    current = of_app(p, app)
    for mapping in mappings:
        if mapping not in current:
            raise NotFound(f"app {app} has no port mapping {mapping} (`ponton ports:report {app}`)")
    _delete(p, app, mappings)


def _delete(p, app: str, mappings: list[Mapping]):
    for mapping in mappings:
        p.state.remove_port(app, mapping.host_port, mapping.protocol)


def unpublished(p, app: str, mappings: list[Mapping]) -> list[str]:
    """The container ports of `mappings` that some running web instance of the app does not publish."""
    web = [i for i in p.scheduler.instances(app) if i.process == WEB and i.running]
    return sorted({m.container_key for m in mappings for i in web if i.published(m.container_key) is None})

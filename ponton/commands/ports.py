"""ports:add, ports:remove, ports:report: extra ports nginx listens on for an app (http, https, grpc, grpcs, tcp,
udp), each forwarded to a container port of its web instances."""

import click

from ponton.core.undo import undone_on_failure
from ponton.features import portmaps
from ponton.output import app_argument, emit, format_option, pass_ponton, table
from ponton.pipeline import deploy, routing

MAPPING_HELP = """\b
SCHEME is one of:
  http   HTTP on HOST_PORT (any Host), to CONTAINER_PORT
  https  HTTPS and HTTP/2 on HOST_PORT with APP's certificate (certs:add, letsencrypt:enable)
  grpc   gRPC (cleartext HTTP/2) on HOST_PORT, to APP's gRPC server on CONTAINER_PORT
  grpcs  gRPC over TLS with APP's certificate, to APP's cleartext gRPC server on CONTAINER_PORT
  tcp    raw TCP connections
  udp    UDP datagrams (a client's session ends after 10s without datagrams)
"""


@click.command("ports:add", help=f"""Make nginx listen on HOST_PORT and forward SCHEME traffic to CONTAINER_PORT of
APP's web instances. Each MAPPING is SCHEME:HOST_PORT:CONTAINER_PORT, e.g. tcp:9000:7000.

A host port belongs to one app (tcp and udp may share a number); ponton's HTTP and HTTPS ports, its port_range
and ports that another program listens on are refused. If the instances do not publish CONTAINER_PORT yet, they
are replaced one at a time (no request is dropped).

{MAPPING_HELP}""")
@app_argument()
@click.argument("mappings", metavar="MAPPING...", nargs=-1, required=True)
@pass_ponton
def add(p, app, mappings):
    parsed = portmaps.parse_all(mappings)
    with p.locked(app):
        p.state.app_id(app)
        for mapping in parsed:
            portmaps.check_available(p, app, mapping)
        portmaps.record(p, app, parsed)
        with undone_on_failure(lambda: portmaps.forget(p, app, parsed)):
            routing.reroute(p, app)
        missing = portmaps.unpublished(p, app, parsed)
        if missing:
            click.echo(f"-----> Replacing the instances of {app} to publish container port {', '.join(missing)}")
            with undone_on_failure(lambda: (portmaps.forget(p, app, parsed), routing.reroute(p, app))):
                deploy.converge(p, app, replace=True)
        p.event(app, "ports", f"added {' '.join(map(str, parsed))}")
    for mapping in parsed:
        click.echo(f"-----> {app}: {mapping.scheme} on port {mapping.host_port} "
                   f"to container port {mapping.container_key}")


@click.command("ports:remove")
@app_argument()
@click.argument("mappings", metavar="MAPPING...", nargs=-1, required=True)
@pass_ponton
def remove(p, app, mappings):
    """Stop listening on the host ports of these MAPPINGs (SCHEME:HOST_PORT:CONTAINER_PORT, as ports:report
    shows them)."""
    parsed = portmaps.parse_all(mappings)
    with p.locked(app):
        portmaps.forget(p, app, parsed)
        with undone_on_failure(lambda: portmaps.record(p, app, parsed)):
            routing.reroute(p, app)
        p.event(app, "ports", f"removed {' '.join(map(str, parsed))}")
    for mapping in parsed:
        click.echo(f"-----> {app}: removed {mapping}")


@click.command("ports:report")
@app_argument()
@format_option
@pass_ponton
def report(p, app, fmt):
    """List APP's extra ports: scheme, host port, container port (its domains are served on the HTTP and HTTPS
    ports besides)."""
    mappings = portmaps.of_app(p, app)
    data = [{"scheme": m.scheme, "host_port": m.host_port, "container_port": m.container_port,
             "mapping": str(m)} for m in mappings]
    rows = [[m.scheme, m.host_port, m.container_key] for m in mappings]
    emit(fmt, data, table(rows, ["scheme", "host_port", "container_port"]) if rows else f"{app} has no extra ports")


COMMANDS = [add, remove, report]

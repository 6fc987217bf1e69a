"""cluster:init, cluster:join-command, cluster:join, cluster:report: this server as the first manager of a Docker
Swarm cluster, the line that joins another server to it, that joining (install.sh's PONTON_JOIN), and the
cluster's health (docs/cluster.md)."""

import re

import click

from ponton.core import validate
from ponton.core.context import SCHEDULER_KEY
from ponton.core.errors import InvalidInput, PontonError
from ponton.core.undo import undone_on_failure
from ponton.output import emit, format_option, pass_ponton, table
from ponton.pipeline import clustering
from runtime import cluster, ingress, registry

SWARM = "swarm"
# What cluster:join-command prints after PONTON_JOIN=: a Swarm join token, @, the manager's HOST:PORT.
JOIN = re.compile(r"(SWMTKN-1-[0-9a-z]{1,100}-[0-9a-z]{1,100})@((?:[0-9A-Za-z.-]{1,253}|\[[0-9a-fA-F:.]{2,45}\]):[0-9]{1,5})")


@click.command("cluster:init")
@click.option("--advertise-addr", metavar="ADDR",
              help="The address other servers reach this one at (default: the engine picks the one of its "
                   "default route).")
@pass_ponton
def init(p, advertise_addr):
    """Make this server the first manager of a cluster; the apps it runs move onto it with no failed request.

    If moving an app fails, run it again: it moves the apps left on this server.

    Instances then run as Swarm tasks spread over the cluster's active nodes. Add servers with the line
    `ponton cluster:join-command` prints.
    """
    if p.state.setting(SCHEDULER_KEY, "") == SWARM:
        if not clustering.left_behind(p):
            raise InvalidInput("this server is a cluster manager already (see `ponton cluster:report`)")
        click.echo("-----> The cluster exists: moving the apps a former cluster:init left on this server")
        clustering.move_apps(p, SWARM)
        return
    if cluster.state() != "inactive":
        raise PontonError("this server's Docker engine is in a swarm ponton did not make: "
                          "`docker swarm leave` it first, or join this server with `PONTON_JOIN`")
    address = cluster.init(advertise_addr)
    with undone_on_failure(cluster.leave):  # a registry that does not start: no cluster, as before
        cluster.update(cluster.find(cluster.local_node()), labels={cluster.INGRESS_LABEL: "true"})
        click.echo(f"-----> This server is the first manager of a new cluster, at {address}")
        clustering.start_registry(p)
    clustering.move_apps(p, SWARM)
    click.echo("-----> Add servers with the line `ponton cluster:join-command` prints")


@click.command("cluster:join-command")
@click.option("--role", type=click.Choice(cluster.ROLES), default="worker", show_default=True,
              help="What the new server becomes.")
@pass_ponton
def join_command(p, role):
    """Print the line that installs ponton on a new server and joins it to this cluster."""
    require_cluster(p)
    click.echo(f"PONTON_JOIN={cluster.join_token(role)}@{cluster.local_address()}:{cluster.SWARM_PORT} ./install.sh")


@click.command("cluster:join", hidden=True)
@click.argument("line", metavar="TOKEN@HOST:PORT")
@click.option("--advertise-addr", metavar="ADDR",
              help="The address the other servers reach this one at (default: the engine picks the one of its "
                   "default route).")
@pass_ponton
def join(p, line, advertise_addr):
    """Make this server a node of a cluster, as `PONTON_JOIN=TOKEN@HOST:PORT ./install.sh` does (it runs this).

    Hidden, and so never reachable over SSH or the API: only root, installing, makes a server join a cluster.
    """
    match = JOIN.fullmatch(line)
    if not match:
        raise InvalidInput(f"PONTON_JOIN: expected TOKEN@HOST:PORT, as `ponton cluster:join-command` prints it on a "
                           f"manager; got {validate.shown(line)}")
    token, manager = match.groups()
    swarm = cluster.state()
    if swarm == "active" and manager in cluster.managers_joined():
        click.echo(f"-----> This server is a node of the cluster at {manager} already")
        return
    if swarm != "inactive":
        raise PontonError(f"this server's Docker engine is in another swarm ({swarm}): `docker swarm leave` it first")
    apps = [record.name for record in p.state.apps()]
    if apps:
        raise InvalidInput(f"this server runs apps of its own ({', '.join(apps)}): a server joins a cluster with none "
                           "(`ponton cluster:init` here makes a cluster of this one instead)")
    clustering.join(p, token, manager, advertise_addr)
    role = "manager" if cluster.is_manager() else "worker"
    click.echo(f"-----> This server ({cluster.local_name()}) is a {role} of the cluster at {manager}; "
               "`ponton nodes:list` on a manager shows it")


@click.command("cluster:report")
@format_option
@pass_ponton
def report(p, fmt):
    """The cluster's managers and leader, its state store, registry, ingress nodes and nodes, each with its
    health."""
    require_cluster(p)
    managers = cluster.managers_report()
    nodes = [n.as_json() for n in cluster.nodes()]
    registries = registry.report()
    ingresses = ingress.report(p.settings.state_dir)
    data = {"managers": managers, "leader": next((m["name"] for m in managers if m["leader"]), None),
            "state_store": {"kind": "sqlite", "where": str(p.settings.state_dir), "health": "ok"},
            "registry": registries, "ingress": ingresses, "nodes": nodes}
    lines = [table([[m["name"], m["address"], "yes" if m["leader"] else "", m["reachability"]] for m in managers],
                   ["manager", "address", "leader", "reachability"]),
             "",
             f"state store: SQLite in {p.settings.state_dir} (on this manager)",
             "registry: " + ", ".join(f"{r['name']} {r['running']}/{r['wanted']} running" for r in registries),
             "ingress: this manager" + "".join(f", {r['name']} (nginx {r['nginx']}, routes {r['routes']})"
                                               for r in ingresses),
             f"nodes: {len(nodes)} ({sum(n['state'] == 'ready' for n in nodes)} ready)"]
    emit(fmt, data, "\n".join(lines))


def require_cluster(p):
    if p.state.setting(SCHEDULER_KEY, "") != SWARM:
        raise InvalidInput("this server is not in a cluster: `ponton cluster:init` makes it the first manager")


COMMANDS = [init, join_command, join, report]

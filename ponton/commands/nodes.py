"""nodes:*: the servers of the cluster, their role, availability and labels (docs/cluster.md)."""

import click

from ponton.commands.cluster import require_cluster
from ponton.core.errors import InvalidInput
from ponton.core.undo import undone_on_failure
from ponton.output import emit, format_option, pass_ponton, table
from ponton.pipeline import clustering, routing
from runtime import cluster

COLUMNS = ["name", "address", "role", "leader", "state", "availability", "instances"]


@click.command("nodes:list")
@format_option
@pass_ponton
def list_(p, fmt):
    """Every node: name, address, role, whether it leads, state, availability, instances."""
    require_cluster(p)
    rows = [node.as_json() for node in cluster.nodes()]
    text = table([[str(row[c]).lower() if isinstance(row[c], bool) else row[c] for c in COLUMNS] for row in rows],
                 COLUMNS)
    emit(fmt, rows, text)


@click.command("nodes:drain")
@click.argument("node")
@pass_ponton
def drain(p, node):
    """Move NODE's instances to other nodes (no failed request), and place none there until nodes:activate."""
    require_cluster(p)
    found = cluster.find(node)
    others = [n for n in cluster.nodes() if n.id != found.id and n.state == "ready" and n.availability == "active"]
    if not others:
        raise InvalidInput(f"cannot drain {found.name}: no other active node to move its instances to")
    cluster.update(found, availability="pause")  # no new task there, while its own keep serving
    on_node: dict[str, list] = {}
    for app, instances in p.scheduler.owned_instances().items():
        moving = [i for i in instances if i.node == found.name and i.alive]
        if moving and p.state.app_exists(app):
            on_node[app] = moving
    # A drain that fails leaves the node as it was (its availability): nothing else changed.
    with undone_on_failure(lambda: cluster.update(found, availability=found.availability)):
        clustering.drain(p, found.name, on_node)
    cluster.update(found, availability="drain")
    click.echo(f"-----> {found.name} drained: no instances run there until `ponton nodes:activate {found.name}`")


@click.command("nodes:activate")
@click.argument("node")
@pass_ponton
def activate(p, node):
    """Let NODE run instances again (those already running elsewhere stay where they are)."""
    require_cluster(p)
    found = cluster.find(node)
    cluster.update(found, availability="active")
    routing.share(p)  # an ingress node serves the routes again
    click.echo(f"-----> {found.name} is active")


@click.command("nodes:promote")
@click.argument("node")
@pass_ponton
def promote(p, node):
    """Make NODE a manager."""
    _set_role(p, node, "manager")


@click.command("nodes:demote")
@click.argument("node")
@pass_ponton
def demote(p, node):
    """Make NODE a worker (a cluster keeps at least one manager)."""
    _set_role(p, node, "worker")


def _set_role(p, node: str, role: str):
    require_cluster(p)
    found = cluster.find(node)
    if found.role == role:
        raise InvalidInput(f"{found.name} is a {role} already")
    if role == "worker" and sum(n.role == "manager" for n in cluster.nodes()) == 1:
        raise InvalidInput(f"cannot demote {found.name}: it is the cluster's only manager")
    cluster.update(found, role=role)
    click.echo(f"-----> {found.name} is a {role}")
    routing.share(p)  # a manager serves the routes


@click.command("nodes:remove")
@click.argument("node")
@click.option("--force", is_flag=True, help="Remove it even if it is up (its instances are lost, not moved).")
@pass_ponton
def remove(p, node, force):
    """Remove NODE from the cluster: drain it first (or it is down), or --force."""
    require_cluster(p)
    found = cluster.find(node)
    if found.role == "manager":
        raise InvalidInput(f"{found.name} is a manager: `ponton nodes:demote {found.name}` first")
    if found.state == "ready" and found.availability != "drain" and not force:
        raise InvalidInput(f"{found.name} is up and runs instances: `ponton nodes:drain {found.name}` first, "
                           "or --force")
    cluster.remove(found, force=force or found.state == "ready")
    click.echo(f"-----> {found.name} removed from the cluster")


@click.command("nodes:label")
@click.argument("node")
@click.argument("pairs", metavar="KEY=VALUE...", nargs=-1, required=True)
@pass_ponton
def label(p, node, pairs):
    """Set labels of NODE (KEY= removes one). `ingress=true` makes a worker serve the routes too."""
    require_cluster(p)
    found = cluster.find(node)
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not key.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(f"invalid label {pair!r}: use KEY=VALUE (letters, digits, . - _ in KEY)")
        labels[key] = value or None
    cluster.update(found, labels=labels)
    click.echo(f"-----> Labels of {found.name}: " + (" ".join(f"{k}={v}" for k, v in
                                                            cluster.find(found.id).labels.items()) or "none"))
    if cluster.INGRESS_LABEL in labels:
        routing.share(p)  # it serves the routes now, or no longer


COMMANDS = [list_, drain, activate, promote, demote, remove, label]

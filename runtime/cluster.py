"""The cluster itself, as this server's engine sees it: Docker Swarm's init and join tokens, and its nodes (list,
availability, role, labels, removal). Where instances run on it is the swarm scheduler's (runtime/swarm.py)."""

from dataclasses import dataclass

from ponton.core.dockerclient import client
from ponton.core.errors import NotFound, PontonError
from runtime import spec

SWARM_PORT = 2377  # managers listen for joins and for each other here
ROLES = ("manager", "worker")
AVAILABILITIES = ("active", "drain")
INGRESS_LABEL = "ingress"  # nodes:label NODE ingress=true: a worker that serves the routes too


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    address: str
    role: str
    leader: bool
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    labels: dict
    instances: int  # ponton's tasks running on it

    def as_json(self) -> dict:
        return {"name": self.name, "id": self.id, "address": self.address, "role": self.role, "leader": self.leader,
                "state": self.state, "availability": self.availability, "labels": self.labels,
                "instances": self.instances}


def state() -> str:
    """This engine's part in a swarm: inactive, pending, active, error, locked."""
    return client().info().get("Swarm", {}).get("LocalNodeState", "inactive")


def is_manager() -> bool:
    return bool(client().info().get("Swarm", {}).get("ControlAvailable"))


def init(advertise_addr: str | None) -> str:
    """Make this engine the first manager of a new swarm; returns the address it advertises."""
    import docker  # imported here: slow to import, and most commands never touch the cluster

    try:
        client().swarm.init(advertise_addr=advertise_addr or None, listen_addr=f"0.0.0.0:{SWARM_PORT}")
    except docker.errors.APIError as e:
        raise PontonError(f"cannot make this server a cluster manager: {e.explanation}") from None
    return local_address()


def join(token: str, manager: str, advertise_addr: str | None):
    """Make this engine a node of the swarm whose manager listens at `manager` (HOST:PORT), with the role its
    join token gives."""
    import docker  # imported here: see init()

    try:
        client().swarm.join(remote_addrs=[manager], join_token=token, advertise_addr=advertise_addr or None,
                            listen_addr=f"0.0.0.0:{SWARM_PORT}")
    except docker.errors.APIError as e:
        raise PontonError(f"cannot join the cluster at {manager}: {e.explanation}") from None


def leave():
    """Make this engine leave its swarm (the undo of init: a manager alone in it loses nothing)."""
    client().swarm.leave(force=True)


def managers_joined() -> list[str]:
    """The addresses (HOST:PORT) of the managers this engine knows, as a node of a swarm."""
    return [m["Addr"] for m in client().info()["Swarm"].get("RemoteManagers") or []]


def local_name() -> str:
    """This engine's node name: its host name."""
    return client().info()["Name"]


def local_address() -> str:
    return client().info()["Swarm"]["NodeAddr"]


def local_node() -> str:
    """This engine's node ID."""
    return client().info()["Swarm"]["NodeID"]


def join_token(role: str) -> str:
    return client().api.inspect_swarm()["JoinTokens"]["Manager" if role == "manager" else "Worker"]


def nodes() -> list[Node]:
    """Every node, managers first, then by name."""
    running: dict[str, int] = {}
    for task in client().api.tasks(filters={"desired-state": "running"}):
        labels = task.get("Spec", {}).get("ContainerSpec", {}).get("Labels", {})
        if spec.LABEL_APP in labels and task["Status"]["State"] == "running":
            running[task.get("NodeID", "")] = running.get(task.get("NodeID", ""), 0) + 1
    found = [_node(raw, running.get(raw["ID"], 0)) for raw in client().api.nodes()]
    return sorted(found, key=lambda n: (n.role != "manager", n.name))


def find(name: str) -> Node:
    """The node with this name (its host name) or ID (or a unique prefix of it)."""
    listed = nodes()
    exact = [n for n in listed if name in (n.name, n.id)]
    matches = exact or [n for n in listed if n.id.startswith(name) and len(name) >= 4]
    if len(matches) != 1:
        known = ", ".join(n.name for n in listed)
        raise NotFound(f"no node {name!r}" + (" (several match)" if matches else "") + f"; nodes: {known}")
    return matches[0]


def update(node: Node, role: str | None = None, availability: str | None = None,
           labels: dict[str, str | None] | None = None):
    """Change a node's role, availability or labels (None removes a label)."""
    import docker  # imported here: see init()

    def changed(node_spec: dict) -> dict:
        node_spec = dict(node_spec)
        if role:
            node_spec["Role"] = role
        if availability:
            node_spec["Availability"] = availability
        for key, value in (labels or {}).items():
            node_spec["Labels"] = {k: v for k, v in node_spec.get("Labels", {}).items() if k != key}
            if value is not None:
                node_spec["Labels"][key] = value
        return node_spec

    try:
        update_spec(node.id, changed)
    except docker.errors.APIError as e:
        raise PontonError(f"cannot change node {node.name}: {e.explanation}") from None


def update_spec(node_id: str, changed, attempts: int = 5):
    """Write `changed(spec)` over a node's spec. Swarm refuses a write based on a version that changed meanwhile
    (another change, or Swarm's own): read again and retry, a few times."""
    import docker  # imported here: see init()

    for attempt in range(attempts):
        raw = client().api.inspect_node(node_id)
        try:
            client().api.update_node(node_id, raw["Version"]["Index"], changed(raw["Spec"]))
            return
        except docker.errors.APIError as e:
            if "update out of sequence" not in str(e.explanation) or attempt == attempts - 1:
                raise


def remove(node: Node, force: bool):
    import docker  # imported here: see init()

    try:
        client().api.remove_node(node.id, force=force)
    except docker.errors.APIError as e:
        raise PontonError(f"cannot remove node {node.name}: {e.explanation}") from None


def managers_report() -> list[dict]:
    """Each manager's reachability, as the swarm's Raft sees it."""
    return [{"name": n["Description"]["Hostname"], "address": n["ManagerStatus"]["Addr"],
             "leader": bool(n["ManagerStatus"].get("Leader")), "reachability": n["ManagerStatus"]["Reachability"]}
            for n in client().api.nodes() if n.get("ManagerStatus")]


def address_of(raw: dict) -> str:
    """A node's cluster address. A manager that listens on 0.0.0.0 may report that as its own: then the address
    the other managers reach it at says it."""
    address = raw.get("Status", {}).get("Addr", "")
    if address in ("", "0.0.0.0") and raw.get("ManagerStatus"):
        address = raw["ManagerStatus"]["Addr"].rpartition(":")[0]
    return address


def _node(raw: dict, instances: int) -> Node:
    manager = raw.get("ManagerStatus") or {}
    return Node(
        id=raw["ID"], name=raw["Description"]["Hostname"], address=address_of(raw),
        role=raw["Spec"]["Role"], leader=bool(manager.get("Leader")), state=raw["Status"]["State"],
        availability=raw["Spec"]["Availability"], labels=raw["Spec"].get("Labels", {}), instances=instances,
    )

"""The cluster's image registry: how an image built on a manager reaches the node that runs it.

Three Swarm services of Debian's docker-registry (the image runtime/registry/ describes, built once per server
like a stack), on the host's network:
- the primary, on the first manager, listening on its 127.0.0.1:PRIMARY_PORT only: where that manager's engine
  pushes (an engine trusts a loopback registry without TLS), its data on a volume;
- a reader of the same volume beside it, read-only, on the manager's cluster address (READER_PORT);
- a pull-through mirror of the reader on every node (a global service), on that node's 127.0.0.1:MIRROR_PORT: each
  engine pulls from its own loopback. No node needs a certificate or a daemon setting to join.

Nodes run an image by its digest (127.0.0.1:MIRROR_PORT/ponton/APP@sha256:...), which the engine checks: nothing
on the cluster network can make a node run other content. Pushes are by content too (the tag is the image ID): a
release pushed once is never pushed again. Who may read images is who reaches the cluster address: keep that
network private (docs/cluster.md).
"""

import time
import urllib.error
import urllib.request
from pathlib import Path

from ponton.core.dockerclient import client
from ponton.core.errors import DeployError

IMAGE = "ponton/registry:trixie"
DIRECTORY = Path(__file__).parent / "registry"
PRIMARY, READER, MIRROR, VOLUME = "ponton-registry", "ponton-registry-reader", "ponton-registry-mirror", "ponton-registry"
PRIMARY_PORT, READER_PORT, MIRROR_PORT = 5001, 5002, 5000
LABEL = "ponton.registry"
DATA = "/var/lib/docker-registry"


def run(manager: str, address: str):
    """Start the primary and the reader on node `manager` (an ID) at `address`, and the mirrors, and return once
    they serve. Services that exist already are left as they are."""
    import docker  # imported here: slow to import, and most commands never touch the cluster

    existing = {s["Spec"]["Name"] for s in client().api.services(filters={"label": LABEL})}
    volume = {"Mounts": [{"Type": "volume", "Source": VOLUME, "Target": DATA}]}
    on_manager = {"Placement": {"Constraints": [f"node.id=={manager}"]}}
    services = {
        PRIMARY: ({"Replicated": {"Replicas": 1}}, [f"REGISTRY_HTTP_ADDR=127.0.0.1:{PRIMARY_PORT}"], volume, on_manager),
        READER: ({"Replicated": {"Replicas": 1}}, [f"REGISTRY_HTTP_ADDR={address}:{READER_PORT}",
                                                   "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true"],
                 volume, on_manager),
        MIRROR: ({"Global": {}}, [f"REGISTRY_HTTP_ADDR=127.0.0.1:{MIRROR_PORT}",
                                  f"REGISTRY_PROXY_REMOTEURL=http://{address}:{READER_PORT}"], {}, {}),
    }
    # The reader before the mirrors: a mirror that cannot reach it when it starts exits (and is started again).
    for name, (mode, env, mounts, placement) in services.items():
        if name not in existing:
            template = {"ContainerSpec": {"Image": IMAGE, "Env": env, **mounts}, **placement,
                        "Networks": [{"Target": "host"}],
                        "RestartPolicy": {"Condition": "any", "Delay": 1_000_000_000}}
            try:
                client().api.create_service(template, name=name, labels={LABEL: name}, mode=mode)
            except docker.errors.APIError as e:
                raise DeployError(f"cannot start the cluster's registry ({name}): {e.explanation}") from None
        if name == READER:
            _wait_reader(address)
    _wait_running()


def _wait_reader(address: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://{address}:{READER_PORT}/v2/", timeout=2)
            return
        except (OSError, urllib.error.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise DeployError(f"the cluster's registry did not answer on {address}:{READER_PORT} "
                              f"within {timeout:g} s (`docker service ps {READER}` says why)")
        time.sleep(0.2)


def _wait_running(timeout: float = 60):
    """Until each registry service runs every task it should (the mirror: one on each node)."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = [r["name"] for r in report() if not r["wanted"] or r["running"] < r["wanted"]]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise DeployError(f"the cluster's registry does not run after {timeout:g} s "
                              f"(`docker service ps {' '.join(waiting)}` says why)")
        time.sleep(0.2)


def distribute(image: str, app: str) -> str:
    """Push `image` (of this engine) to the primary unless it is there, and return the name nodes run it by."""
    found = client().images.get(image)
    pushed = f"127.0.0.1:{PRIMARY_PORT}/ponton/{app}"
    digest = _digest(found, pushed)
    if digest is None:
        tag = found.id.partition(":")[2]
        found.tag(pushed, tag)
        for line in client().images.push(pushed, tag, stream=True, decode=True):
            if "error" in line:
                client().images.remove(f"{pushed}:{tag}")  # so that the next start pushes it again
                raise DeployError(f"cannot push {image} to the cluster's registry: {line['error']}")
            digest = line.get("aux", {}).get("Digest", digest)
    if digest is None:
        raise DeployError(f"the cluster's registry gave no digest for {image}")
    return f"127.0.0.1:{MIRROR_PORT}/ponton/{app}@{digest}"


def _digest(image, repository: str) -> str | None:
    """The digest `image` was pushed to `repository` with, if it was."""
    return next((d.partition("@")[2] for d in image.attrs.get("RepoDigests", []) if d.startswith(f"{repository}@")),
                None)


def report() -> list[dict]:
    """Each registry service with its running tasks and those it should have."""
    rows = []
    for service in client().api.services(filters={"label": LABEL}):
        tasks = client().api.tasks(filters={"service": service["ID"], "desired-state": "running"})
        rows.append({"name": service["Spec"]["Name"],
                     "running": sum(t["Status"]["State"] == "running" for t in tasks), "wanted": len(tasks)})
    return sorted(rows, key=lambda r: r["name"])

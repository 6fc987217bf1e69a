"""nginx on a cluster's ingress nodes other than the first manager (whose own nginx, the server's, ponton drives
directly): the other managers and the nodes labelled ingress=true (cluster.INGRESS_LABEL) serve the same routes.

- SERVICE: a global service of the cluster's image (runtime/registry/ingress.sh) on the host network of each node
  ponton labels NODE_LABEL, which serves the set of routes named last in its volume (VOLUME).
- A new set (the proxy's files, as the nginx plugin exports them) travels as a Swarm secret, so over Swarm's
  mutual TLS and encrypted at rest, with the TLS keys it holds: a global job (JOB, ingress-sync.sh) on those
  nodes unpacks it into the volume, and ends once that node's nginx serves it and the previous set's workers
  finished their requests. `publish` returns then: a rollout stops an old instance only once no ingress node
  sends it requests any more.

A set is named by its content, and a set already served by the same nodes is not sent again.
"""

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from ponton.core.dockerclient import client
from ponton.core.errors import ProxyError
from runtime import cluster, node_images, registry

SERVICE, JOB, VOLUME = "ponton-ingress", "ponton-ingress-sync", "ponton-ingress"
SECRET_PREFIX = "ponton-ingress-routes-"
NODE_LABEL = "ponton.ingress"  # set by ponton on exactly the ingress nodes it serves this way
LABEL = node_images.LABEL
ROOT = "/etc/ponton-ingress"
WAIT = 60  # seconds for a node to take a set of routes
SECRET_LIMIT = 500 * 1024  # Swarm's limit for a secret


def publish(export: Callable[[str], dict[str, bytes] | None], state_dir: Path, http_port: int, drain: float):
    """Have every ready ingress node serve the routes `export(origin)` gives, and return once they do. `origin`:
    this manager's HTTP address, for what only it can answer. Nothing to do without an ingress node."""
    with open(state_dir / "ingress.lock", "a") as lock:  # one set at a time, each the newest when it is taken
        fcntl.flock(lock, fcntl.LOCK_EX)
        nodes = _ingress_nodes()
        if not nodes:
            return
        files = export(f"{cluster.local_address()}:{http_port}")
        if files is None:
            return
        bundle = _bundle(files)
        name = SECRET_PREFIX + hashlib.sha256(bundle).hexdigest()[:16]
        ready = sorted(n["ID"] for n in nodes if n["Status"]["State"] == "ready")
        last = state_dir / "ingress.json"
        if last.exists() and json.loads(last.read_text()) == {"routes": name, "nodes": ready}:
            return
        _ensure_service(drain)
        _sync(name, bundle, ready)
        last.write_text(json.dumps({"routes": name, "nodes": ready}))


def _ingress_nodes() -> list[dict]:
    """The nodes that serve routes besides this one, labelled NODE_LABEL so (and no other node) for SERVICE and
    JOB to be placed there. Not a drained or paused one: Swarm runs no job there (and a drained node stops its
    services), so it could not be told of a change."""
    here = cluster.local_node()
    found = []
    for node in client().api.nodes():
        labels = node["Spec"].get("Labels", {})
        wanted = (node["ID"] != here and node["Spec"]["Availability"] == "active"
                  and (node["Spec"]["Role"] == "manager" or labels.get(cluster.INGRESS_LABEL) == "true"))
        if wanted != (labels.get(NODE_LABEL) == "true"):
            cluster.update_spec(node["ID"], lambda spec, wanted=wanted: {
                **spec, "Labels": {**{k: v for k, v in spec.get("Labels", {}).items() if k != NODE_LABEL},
                                   **({NODE_LABEL: "true"} if wanted else {})}})
        if wanted:
            found.append(node)
    return found


def _bundle(files: dict[str, bytes]) -> bytes:
    """A .tar.gz of the files, the same bytes for the same files (no time in it): its digest names the set."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    bundle = gzip.compress(archive.getvalue(), mtime=0)
    if len(bundle) > SECRET_LIMIT:
        raise ProxyError(f"the routes are {len(bundle) // 1024} KiB compressed, more than the "
                         f"{SECRET_LIMIT // 1024} KiB a Swarm secret holds: ingress nodes cannot get them")
    return bundle


def _ensure_service(drain: float):
    if client().api.services(filters={"name": SERVICE}):
        return
    template = {"ContainerSpec": {"Image": registry.IMAGE, "Command": ["/bin/sh", "/usr/local/lib/ingress.sh"],
                                  "Env": [f"DRAIN={drain:g}"],
                                  "Mounts": [{"Type": "volume", "Source": VOLUME, "Target": ROOT}]},
                "Placement": {"Constraints": [f"node.labels.{NODE_LABEL}==true"]},
                "Networks": [{"Target": "host"}],
                "RestartPolicy": {"Condition": "any", "Delay": 1_000_000_000}}
    client().api.create_service(template, name=SERVICE, labels={LABEL: SERVICE}, mode={"Global": {}})


def _sync(name: str, bundle: bytes, ready: list[str]):
    """Run JOB with the set `name` on the ingress nodes, and wait until it ended on each `ready` one."""
    import docker  # imported here: slow to import, and most commands never touch the cluster

    with contextlib.suppress(docker.errors.APIError):  # made by an earlier publish whose job was cut short
        client().api.create_secret(name, bundle, labels={LABEL: JOB})
    secret = next(s for s in client().api.secrets(filters={"name": name}) if s["Spec"]["Name"] == name)
    for previous in client().api.services(filters={"name": JOB}):
        with contextlib.suppress(docker.errors.NotFound):
            client().api.remove_service(previous["ID"])
    command = ["/bin/sh", "/usr/local/lib/ingress-sync.sh", name.removeprefix(SECRET_PREFIX)]
    template = {"ContainerSpec": {"Image": registry.IMAGE, "Command": command,
                                  "Env": [f"WAIT={WAIT}"],
                                  "Mounts": [{"Type": "volume", "Source": VOLUME, "Target": ROOT}],
                                  "Secrets": [{"SecretID": secret["ID"], "SecretName": name,
                                               "File": {"Name": "ponton-ingress-routes", "UID": "0", "GID": "0",
                                                        "Mode": 0o400}}]},
                "Placement": {"Constraints": [f"node.labels.{NODE_LABEL}==true"]},
                "RestartPolicy": {"Condition": "none"}}
    job = client().api.create_service(template, name=JOB, labels={LABEL: JOB}, mode={"GlobalJob": {}})["ID"]
    _wait(job, ready)
    for old in client().api.secrets(filters={"label": f"{LABEL}={JOB}"}):
        if old["Spec"]["Name"] != name:
            with contextlib.suppress(docker.errors.APIError):  # still used by a job being removed: next time
                client().api.remove_secret(old["ID"])


def _wait(job: str, ready: list[str]):
    deadline = time.monotonic() + WAIT + 30  # the job's own wait, and time to start on each node
    while True:
        tasks = {t["NodeID"]: t for t in client().api.tasks(filters={"service": job}) if t.get("NodeID") in ready}
        states = {node: t["Status"]["State"] for node, t in tasks.items()}
        if len(states) == len(ready) and all(s == "complete" for s in states.values()):
            return
        failed = [t for t in tasks.values() if t["Status"]["State"] in ("failed", "rejected")]
        if failed:
            raise ProxyError(f"an ingress node refused the new routes: {_why(failed[0])}")
        if time.monotonic() > deadline:
            waiting = sorted(set(ready) - {n for n, s in states.items() if s == "complete"})
            raise ProxyError(f"ingress node(s) {', '.join(waiting)} did not take the new routes within "
                             f"{WAIT + 30} s (`docker service ps {JOB}` says why)")
        time.sleep(0.05)


def _why(task: dict) -> str:
    """What a failed task of JOB printed last (nginx's reason), else the engine's error."""
    import docker  # imported here: see _sync()

    try:
        output = b"".join(client().api.service_logs(task["ServiceID"], stderr=True, stdout=True, tail=1))
    except docker.errors.APIError:
        output = b""
    return output.decode(errors="replace").strip() or task["Status"].get("Err", "")


def report(state_dir: Path) -> list[dict]:
    """Each ingress node besides this one: whether its nginx runs, and whether it took the routes last published
    (`routes`: current, or behind)."""
    last = state_dir / "ingress.json"
    took = set(json.loads(last.read_text())["nodes"]) if last.exists() else set()
    tasks = client().api.tasks(filters={"service": SERVICE, "desired-state": "running"}) \
        if client().api.services(filters={"name": SERVICE}) else []
    running = {t["NodeID"] for t in tasks if t["Status"]["State"] == "running"}
    return sorted(({"name": node["Description"]["Hostname"], "nginx": "running" if node["ID"] in running else "down",
                    "routes": "current" if node["ID"] in took else "behind"}
                   for node in client().api.nodes() if node["Spec"].get("Labels", {}).get(NODE_LABEL) == "true"),
                  key=lambda row: row["name"])

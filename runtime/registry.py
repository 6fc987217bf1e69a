"""The cluster's image registry: how an image built on a manager reaches the node that runs it.

Three Swarm services of Debian's docker-registry (the image runtime/registry/ describes, built once per server
like a stack), on the host's network:
- the primary, on the first manager, listening on its 127.0.0.1:PRIMARY_PORT only: where that manager's engine
  pushes (an engine trusts a loopback registry without TLS), its data on a volume;
- a reader of the same volume beside it, read-only, on the manager's cluster address (READER_PORT), for the
  mirrors only: it asks for the cluster's registry password (a Swarm secret, SECRET), which Swarm hands to the
  registry's tasks and nothing else. An app's instance reaches that address too, and must not read another app's
  image;
- a pull-through mirror of the reader on every node (a global service), on that node's 127.0.0.1:MIRROR_PORT: each
  engine pulls from its own loopback. No node needs a certificate or a daemon setting to join.

Nodes run an image by its digest (127.0.0.1:MIRROR_PORT/ponton/APP@sha256:...), which the engine checks: nothing
on the cluster network can make a node run other content. Pushes are by content too (the tag is the image ID): a
release pushed once is never pushed again. The password and the images go over the cluster's network in the
clear: keep that network private (docs/cluster.md).
"""

import contextlib
import fcntl
import hashlib
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path

from ponton.core.dockerclient import client
from ponton.core.errors import DeployError

DIRECTORY = Path(__file__).parent / "registry"
# Tagged by what it is built from: a server that has an older build (without the reader's password) builds this one.
IMAGE = "ponton/registry:trixie-" + hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(DIRECTORY.iterdir()) if path.is_file())).hexdigest()[:12]
PRIMARY, READER, MIRROR, VOLUME = "ponton-registry", "ponton-registry-reader", "ponton-registry-mirror", "ponton-registry"
PRIMARY_PORT, READER_PORT, MIRROR_PORT = 5001, 5002, 5000
LABEL = "ponton.registry"
DATA = "/var/lib/docker-registry"
PUSHED = f"127.0.0.1:{PRIMARY_PORT}/"  # what the names of images pushed to the primary start with
MIRRORED = f"127.0.0.1:{MIRROR_PORT}/"  # and of those an engine pulled from its mirror
SECRET = "ponton-registry-password"  # where entrypoint.sh reads it: /run/secrets/SECRET
PASSWORD_FILE = "/run/ponton-registry.htpasswd"


def run(manager: str, address: str):
    """Start the primary and the reader on node `manager` (an ID) at `address`, and the mirrors, and return once
    they serve. Services that exist already are left as they are."""
    import docker  # imported here: slow to import, and most commands never touch the cluster

    existing = {s["Spec"]["Name"] for s in client().api.services(filters={"label": LABEL})}
    password = _secret()
    volume = {"Mounts": [{"Type": "volume", "Source": VOLUME, "Target": DATA}]}
    on_manager = {"Placement": {"Constraints": [f"node.id=={manager}"]}}
    services = {
        PRIMARY: ({"Replicated": {"Replicas": 1}}, [f"REGISTRY_HTTP_ADDR=127.0.0.1:{PRIMARY_PORT}"], volume, on_manager),
        READER: ({"Replicated": {"Replicas": 1}}, [f"REGISTRY_HTTP_ADDR={address}:{READER_PORT}",
                                                   "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true",
                                                   "REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=ponton",
                                                   f"REGISTRY_AUTH_HTPASSWD_PATH={PASSWORD_FILE}"],
                 volume, on_manager),
        MIRROR: ({"Global": {}}, [f"REGISTRY_HTTP_ADDR=127.0.0.1:{MIRROR_PORT}",
                                  f"REGISTRY_PROXY_REMOTEURL=http://{address}:{READER_PORT}"], {}, {}),
    }
    # The reader before the mirrors: a mirror that cannot reach it when it starts exits (and is started again).
    for name, (mode, env, mounts, placement) in services.items():
        if name not in existing:
            template = {"ContainerSpec": {"Image": IMAGE, "Env": env, "Secrets": [password], **mounts}, **placement,
                        "Networks": [{"Target": "host"}],
                        "RestartPolicy": {"Condition": "any", "Delay": 1_000_000_000}}
            try:
                client().api.create_service(template, name=name, labels={LABEL: name}, mode=mode)
            except docker.errors.APIError as e:
                raise DeployError(f"cannot start the cluster's registry ({name}): {e.explanation}") from None
        if name == READER:
            _wait_reader(address)
    _wait_running()


def _secret() -> dict:
    """The cluster's registry password (made once: a secret cannot be read back, nor removed while a service
    uses it), as a service's ContainerSpec refers to it."""
    found = [s["ID"] for s in client().api.secrets(filters={"name": SECRET}) if s["Spec"]["Name"] == SECRET]
    if found:
        secret_id = found[0]
    else:
        secret_id = client().api.create_secret(SECRET, secrets.token_urlsafe(32).encode(), labels={LABEL: SECRET})["ID"]
    return {"SecretID": secret_id, "SecretName": SECRET, "File": {"Name": SECRET, "UID": "0", "GID": "0", "Mode": 0o400}}


def _wait_reader(address: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://{address}:{READER_PORT}/v2/", timeout=2)
            return
        except urllib.error.HTTPError as e:
            if e.code == 401:  # it answers, and asks for the password
                return
        except OSError:
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


def distribute(image: str, app: str, state_dir: Path) -> str:
    """Push `image` (of this engine) to the primary unless it is there, and return the name nodes run it by."""
    found = client().images.get(image)
    pushed = f"{PUSHED}ponton/{app}"
    digest = _digest(found, pushed)
    if digest is None:
        tag = found.id.partition(":")[2]
        found.tag(pushed, tag)
        with _storage(state_dir, fcntl.LOCK_SH):  # pushes of several apps at once, but none while collecting
            for line in client().images.push(pushed, tag, stream=True, decode=True):
                if "error" in line:
                    client().images.remove(f"{pushed}:{tag}")  # so that the next start pushes it again
                    raise DeployError(f"cannot push {image} to the cluster's registry: {line['error']}")
                digest = line.get("aux", {}).get("Digest", digest)
    if digest is None:
        raise DeployError(f"the cluster's registry gave no digest for {image}")
    return f"{MIRRORED}ponton/{app}@{digest}"


def forget(images: set[str], state_dir: Path) -> set[str]:
    """Delete from the primary what these images of this engine were pushed as, then the layers no image there
    has any more (the registry's garbage-collect). Returns the names of this engine's to remove: each image's own
    and, once the primary forgot it, those it has as pushed and as pulled back from the mirror (while an image
    has a name, the engine keeps it). An image the primary could not forget keeps its names, so that the next
    prune tries again."""
    import docker  # imported here: see run()

    pushed: dict[str, tuple[set[str], set[str]]] = {}  # name -> (its manifests in the primary, its names of ours)
    for name in images:
        with contextlib.suppress(docker.errors.ImageNotFound):
            found = client().images.get(name)
            ours = {n for n in found.tags + found.attrs.get("RepoDigests", []) if n.startswith((PUSHED, MIRRORED))}
            if manifests := {n for n in ours if n.startswith(PUSHED) and "@" in n}:
                pushed[name] = (manifests, ours)
    if not pushed:
        return images
    primary = client().containers.list(filters={"label": f"com.docker.swarm.service.name={PRIMARY}"})
    deleted = [name for name, (manifests, _) in pushed.items()
               if primary and all(_delete(primary[0], manifest) for manifest in manifests)]
    if deleted:  # a collection that fails leaves only disk taken, which the next one frees
        with _storage(state_dir, fcntl.LOCK_EX):
            primary[0].exec_run(["docker-registry", "garbage-collect", "/etc/ponton-registry.yml"])
    return (images - set(pushed)) | {n for name in deleted for n in {name, *pushed[name][1]}}


def _delete(primary, pushed: str) -> bool:
    """Delete a manifest (`pushed`: 127.0.0.1:PRIMARY_PORT/REPOSITORY@DIGEST) from the primary, through its
    container (its port is on the manager's loopback); True if it is gone."""
    repository, _, digest = pushed.removeprefix(PUSHED).partition("@")
    code, status = primary.exec_run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                                     f"http://{PUSHED}v2/{repository}/manifests/{digest}"])
    return code == 0 and status.strip() in (b"202", b"404")


@contextlib.contextmanager
def _storage(state_dir: Path, mode: int):
    """The registry's storage, shared by pushes, or all for a garbage collection (which would take the layers of
    a push under way for unused)."""
    with open(state_dir / "registry.lock", "a") as f:
        fcntl.flock(f, mode)
        yield


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

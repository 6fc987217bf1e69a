"""A service's container, network and volume on the engine (plugins/services/__init__.py says what each is)."""

import tarfile
import tempfile
import time
from pathlib import Path

from plugins.services import LABEL_KIND, LABEL_NAME, LABEL_OWNER, Kind, engine_name, host
from ponton import api
from ponton.core.dockerclient import client, networks_named
from ponton.core.errors import PontonError

CPU = "1"  # cores a service may use, unless the server has a default for every container (setting cpu_limit)
START_TIMEOUT = 120  # seconds a service has to pass its health check once started (a first start makes its data)
HEALTH_POLL = 0.5  # seconds between health checks while waiting for one to pass


def spec(settings, kind: Kind, name: str, password: str) -> dict:
    """Arguments for `containers.create`, but its alias on the network (the engine's API version makes that)."""
    limits = api.container_limits(settings, kind.memory, CPU)
    return {
        "image": kind.image,
        "name": engine_name(kind, name),
        "environment": kind.environment(name, password, limits.get("mem_limit")),
        "labels": {LABEL_KIND: kind.name, LABEL_NAME: name, LABEL_OWNER: str(settings.state_dir)},
        "network": engine_name(kind, name),
        "volumes": {engine_name(kind, name): {"bind": kind.data_dir, "mode": "rw"}},
        "restart_policy": {"Name": "unless-stopped"},  # a crash, an engine restart: the engine starts it again
        "init": True,  # PID 1 passes the stop signal on (runtime/spec.py says why)
        "log_config": api.LOG_CONFIG,
        **api.ISOLATION,
        **limits,
    }


def find(settings, kind: Kind, name: str):
    """The service's container (this ponton's: others may share the engine), or None."""
    labels = [f"{LABEL_KIND}={kind.name}", f"{LABEL_NAME}={name}", f"{LABEL_OWNER}={settings.state_dir}"]
    found = client().containers.list(all=True, filters={"label": labels}, ignore_removed=True)
    return found[0] if found else None


def leftovers(kind: Kind, name: str) -> list[str]:
    """What the engine has under the service's names already (what a destroy cut short left, another
    ponton's): create refuses to take any of it over."""
    import docker  # imported here: slow, and a plugin is loaded by commands that never touch the engine

    found = []
    for what, collection in (("volume", client().volumes), ("container", client().containers)):
        try:
            collection.get(engine_name(kind, name))
            found.append(f"{what} {engine_name(kind, name)}")
        except docker.errors.NotFound:
            pass
    return found + [f"network {network.name}" for network in _networks(kind, name)]


def ensure_network(kind: Kind, name: str):
    """The service's own network: internal, so that nothing on it reaches out; apps join it to reach the service."""
    if not _networks(kind, name):
        client().networks.create(engine_name(kind, name), driver="bridge", internal=True,
                                 labels={LABEL_KIND: kind.name, LABEL_NAME: name})


def _networks(kind: Kind, name: str) -> list:
    return networks_named(engine_name(kind, name))


def create(settings, kind: Kind, name: str, password: str):
    """Make the network and volume if missing, then the container, and start it."""
    ensure_network(kind, name)
    client().volumes.create(engine_name(kind, name), labels={LABEL_KIND: kind.name, LABEL_NAME: name})
    args = spec(settings, kind, name, password)
    endpoint = client().api.create_endpoint_config(aliases=[host(kind, name)])
    container = client().containers.create(**args, networking_config={args["network"]: endpoint})
    container.start()
    return container


def remove(settings, kind: Kind, name: str, volume: bool):
    """Remove the container and the network (every container still on it leaves it), and the volume if asked."""
    import docker  # imported here: see leftovers

    container = find(settings, kind, name)
    if container is not None:
        container.remove(force=True)
    for network in _networks(kind, name):
        _disconnect(network, lambda other: True)
        network.remove()
    if volume:
        try:
            client().volumes.get(engine_name(kind, name)).remove()
        except docker.errors.NotFound:
            pass


def disconnect_app(kind: Kind, name: str, app: str):
    """Take the containers of `app` still on the service's network off it (after unlink: a blue-green standby,
    or all of them when the config did not change and nothing was rolled)."""
    for network in _networks(kind, name):
        _disconnect(network, lambda container: container.labels.get(api.LABEL_APP) == app)


def _disconnect(network, which):
    network.reload()
    for container in network.containers:
        if which(container):
            network.disconnect(container, force=True)


def healthy(kind: Kind, container) -> bool:
    """Whether the service answers its health check now."""
    import docker  # imported here: see leftovers

    try:
        return container.exec_run(list(kind.health)).exit_code == 0
    except docker.errors.APIError:  # not running, or gone
        return False


def wait_healthy(kind: Kind, name: str, container, timeout: float = START_TIMEOUT):
    """Return once the service passes its health check; PontonError (its last log lines after it) if it stops
    or does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status == "running" and healthy(kind, container):
            return
        if container.status not in ("running", "restarting", "created") or time.monotonic() > deadline:
            why = "stopped" if container.status not in ("running", "restarting") else f"did not answer within {timeout:g}s"
            raise PontonError(f"{kind.name} service {name} {why}",
                              details=container.logs(tail=10).decode(errors="replace"))
        time.sleep(HEALTH_POLL)


def run(container, command: list[str]) -> tuple[int, str]:
    """Run `command` in the container: (exit code, its output)."""
    result = container.exec_run(command)
    return result.exit_code, result.output.decode(errors="replace")


def run_into(container, command: list[str], out) -> tuple[int, str]:
    """Run `command` in the container, its standard output streamed into the file `out`: (exit code, the end of
    its standard error)."""
    engine = client().api
    exec_id = engine.exec_create(container.id, command)["Id"]
    errors = b""
    for stdout, stderr in engine.exec_start(exec_id, stream=True, demux=True):
        if stdout:
            out.write(stdout)
        if stderr:
            errors = (errors + stderr)[-4000:]
    return engine.exec_inspect(exec_id)["ExitCode"], errors.decode(errors="replace")


def put(container, directory: str, name: str, path: Path):
    """Copy the file at `path` into the container as DIRECTORY/NAME, readable by every user in it (it runs the
    service as its own user; DIRECTORY is one that user owns, so it may remove the file)."""
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar, open(path, "rb") as f:
            info = tar.gettarinfo(arcname=name, fileobj=f)
            info.mode, info.uid, info.gid, info.uname, info.gname = 0o644, 0, 0, "root", "root"
            tar.addfile(info, f)
        archive.seek(0)
        if not container.put_archive(directory, archive):
            raise PontonError(f"cannot copy {path.name} into {container.name}")


def state(settings, kind: Kind, name: str) -> str:
    """What the engine says of the service's container: running, restarting, exited... or missing."""
    container = find(settings, kind, name)
    return "missing" if container is None else container.status

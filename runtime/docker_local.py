"""The `docker-local` scheduler: every instance is a container on this server's Docker engine, its ports published
on 127.0.0.1 (ponton/core/scheduler.py has the interface it implements)."""

import datetime
import platform
from collections.abc import Iterator
from dataclasses import dataclass

from ponton.core.dockerclient import client, networks_named
from ponton.core.errors import DeployError
from ponton.core.scheduler import InstanceEvent
from runtime import hostports, spec
from runtime.instance import InstanceBase


@dataclass(eq=False)
class Instance(InstanceBase):
    container: object  # docker.models.containers.Container
    process: str
    number: int
    release: int

    @property
    def id(self) -> str:
        return self.container.id

    @property
    def name(self) -> str:
        return f"{self.process}.{self.number}"

    @property
    def engine_name(self) -> str:
        return self.container.name

    @property
    def status(self) -> str:
        return self.container.status

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def alive(self) -> bool:
        """Running, or being restarted by the engine's restart policy (which backs off on its own)."""
        return self.status in ("running", "restarting")

    @property
    def node(self) -> str:
        return platform.node()

    @property
    def host(self) -> str:
        return spec.LOOPBACK

    def published(self, container_port: str) -> int | None:
        """The loopback port `container_port` (like 7000/udp) is published on, or None when not running."""
        bindings = (self.container.attrs["NetworkSettings"]["Ports"] or {}).get(container_port)
        return int(bindings[0]["HostPort"]) if bindings and self.running else None

    @property
    def uptime(self) -> float | None:
        """Seconds since the container (last) started, or None when not running."""
        return seconds_since(self.started_at) if self.running else None

    @property
    def started_at(self) -> str:
        return self.container.attrs["State"]["StartedAt"]

    @property
    def restarts(self) -> int:
        return self.container.attrs.get("RestartCount", 0)

    @property
    def exit_code(self) -> int | None:
        return self.container.attrs["State"].get("ExitCode")

    @property
    def exit_reason(self) -> str:
        state = self.container.attrs["State"]
        if state.get("OOMKilled"):
            return "out of memory"
        return f"exit code {state.get('ExitCode')}" + (f" ({state['Error']})" if state.get("Error") else "")

    def refresh(self):
        self.container.reload()


# On a cluster manager, the containers of Swarm's tasks carry the same labels as this scheduler's (swarm_spec.py
# builds them from the same spec); the engine adds this one to them alone. They are the swarm scheduler's.
SWARM_TASK = "com.docker.swarm.task.id"


class DockerLocal:
    name = "docker-local"

    def __init__(self, settings):
        self.settings = settings
        self.owner = str(settings.state_dir)  # labels its containers: its watchdog removes only its own orphans

    def instances(self, app: str) -> list[Instance]:
        return _listed({"label": f"{spec.LABEL_APP}={app}"})

    def owned_instances(self) -> dict[str, list[Instance]]:
        by_app: dict[str, list[Instance]] = {}
        for instance in _listed({"label": f"{spec.LABEL_OWNER}={self.owner}"}):
            by_app.setdefault(instance.container.labels[spec.LABEL_APP], []).append(instance)
        return by_app

    def owned_apps(self) -> set[str]:
        summaries = client().api.containers(all=True, filters={"label": f"{spec.LABEL_OWNER}={self.owner}"})
        return {summary["Labels"][spec.LABEL_APP] for summary in summaries if SWARM_TASK not in summary["Labels"]}

    def start(self, app: str, process: str, number: int, release, resources: dict | None = None,
              extra_ports: tuple[str, ...] = (), networks: tuple[str, ...] = ()) -> Instance:
        """A web instance gets a fixed loopback port from the port_range setting, and one for each of
        `extra_ports`."""
        import docker  # imported here: slow to import, and most commands never start a container

        _ensure_network(app)
        taken = hostports.used()
        for _ in range(5):  # another deploy may claim the same free port between our pick and our start
            host_port, extra = None, {}
            if process == spec.WEB:
                host_port = hostports.pick(self.settings.ports, taken)
                for key in extra_ports:
                    extra[key] = hostports.pick(self.settings.ports, taken | {host_port, *extra.values()})
            container = None
            try:
                container = client().containers.create(**spec.container_spec(
                    app, process, number, release, self.owner, host_port, resources, extra))
                _join(container, networks)
                container.start()
            except docker.errors.APIError as e:
                if container is not None:
                    container.remove(force=True)
                if "already allocated" in str(e.explanation) or "address already in use" in str(e.explanation):
                    taken.update({host_port, *extra.values()})
                    continue
                raise DeployError(f"cannot start {process}.{number} from image {release.image}: "
                                  f"{e.explanation}") from None
            container.reload()
            return _instance(container)
        raise DeployError(f"cannot start {process}.{number}: no free loopback port after 5 tries")

    def stop(self, instance: Instance, timeout: float):
        """A container removed meanwhile (`docker rm -f`) is stopped as well as it can be: a rollout retiring it
        must not fail, and undo what it did, for that."""
        import docker  # imported here: see start()

        try:
            instance.container.stop(timeout=int(timeout))
            instance.refresh()
        except docker.errors.NotFound:
            instance.container.attrs["State"]["Status"] = "removed"

    def resume(self, instance: Instance):
        instance.container.start()
        instance.refresh()

    def remove(self, instance: Instance):
        import docker  # imported here: see start()

        try:
            instance.container.remove(force=True)
        except docker.errors.NotFound:  # removed already
            pass

    def remove_network(self, app: str):
        for network in networks_named(spec.network_name(app)):
            network.remove()

    def run_once(self, app: str, release, command: str, timeout: float,
                 resources: dict | None = None, networks: tuple[str, ...] = ()) -> tuple[int, str]:
        _ensure_network(app)
        return run_container(app, release, command, timeout, self.owner, resources, spec.network_name(app), networks)

    def usage(self, instance: Instance, sample: bool = False) -> dict:
        return container_usage(instance.container, sample)

    def logs(self, instance: Instance, lines: int | None = None, since: int | None = None) -> list[tuple[str, str]]:
        return stamped_lines(instance.container.logs(timestamps=True, tail="all" if lines is None else lines,
                                                     since=since))

    def follow_logs(self, instance: Instance, since: int) -> Iterator[str]:
        return lines_of(instance.container.logs(stream=True, follow=True, since=since))

    def events(self) -> Iterator[InstanceEvent]:
        stream = client(timeout=None).events(decode=True, filters={
            "type": "container", "label": f"{spec.LABEL_OWNER}={self.owner}", "event": ["die", "destroy", "oom"],
        })
        return (_event(event) for event in stream if SWARM_TASK not in event.get("Actor", {}).get("Attributes", {}))

    def image_tags(self, repository: str) -> list[str]:
        prefix = f"{repository}:"
        return sorted({tag for image in client().images.list(name=repository) for tag in image.tags
                       if tag.startswith(prefix)})

    def retag_images(self, names: dict[str, str]):
        import docker  # imported here: see start()

        for old, new in names.items():
            try:
                image = client().images.get(old)
            except docker.errors.ImageNotFound:
                continue
            repository, _, tag = new.rpartition(":")
            image.tag(repository, tag)
            client().images.remove(old)  # only the name: the image keeps its new one

    def serve_routes(self, export):
        """None to serve: the server's own proxy is the only one."""

    def remove_images(self, names: set[str]):
        """One still used by a container stays (it is pruned next time)."""
        import docker  # imported here: see start()

        for name in names:
            try:
                client().images.remove(name)
            except docker.errors.APIError:
                continue


def run_container(app: str, release, command: str, timeout: float, owner: str, resources: dict | None,
                  network: str, networks: tuple[str, ...]) -> tuple[int, str]:
    """Run `command` once in a container of the release on this engine, on the app's `network` (made already)
    and `networks`: (exit code, output), 124 on a timeout."""
    import requests  # imported here: see DockerLocal.start()

    args = {**spec.one_off_spec(app, release, command, owner, resources), "network": network}
    container = client().containers.create(**args)
    try:
        _join(container, networks)
        container.start()
        try:
            code = container.wait(timeout=timeout)["StatusCode"]
        except requests.exceptions.ConnectionError:
            container.kill()
            code = None
        output = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    if code is None:
        return 124, output + f"\n(timed out after {timeout:g}s)"
    return code, output


def container_usage(container, sample: bool) -> dict:
    """From the engine's stats: memory in use leaves out page cache that can be dropped, as `docker stats`
    does; with `sample`, the engine takes a second sample about a second later."""
    stats = container.stats(stream=False, one_shot=not sample)
    cpu, previous = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    total = cpu.get("cpu_usage", {}).get("total_usage", 0)
    percent = None
    if sample and previous.get("system_cpu_usage") and cpu.get("system_cpu_usage"):
        system = cpu["system_cpu_usage"] - previous["system_cpu_usage"]
        cores = cpu.get("online_cpus") or 1
        percent = (total - previous["cpu_usage"]["total_usage"]) / system * cores * 100 if system > 0 else 0.0
    memory = stats.get("memory_stats", {})
    cache = memory.get("stats", {}).get("total_inactive_file", memory.get("stats", {}).get("inactive_file", 0))
    return {
        "cpu_seconds": total / 1e9,
        "cpu_percent": percent,
        "memory": max(0, memory.get("usage", 0) - cache),
        "memory_limit": container.attrs["HostConfig"].get("Memory") or None,
    }


def stamped_lines(output: bytes) -> list[tuple[str, str]]:
    """The engine's log output with timestamps, as (time stamp, line)."""
    return [(stamp, text) for stamp, _, text in
            (line.partition(" ") for line in output.decode(errors="replace").splitlines())]


def lines_of(stream: Iterator[bytes]) -> Iterator[str]:
    """A log stream's chunks as lines, each once it is complete."""
    buffer = b""
    for chunk in stream:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")


def _listed(filters: dict) -> list[Instance]:
    found = [_instance(c) for c in client().containers.list(all=True, filters=filters, ignore_removed=True)
             if SWARM_TASK not in c.labels]
    return sorted(found, key=lambda i: (i.process, i.number, i.release))


def _instance(container) -> Instance:
    labels = container.labels
    return Instance(
        container=container,
        process=labels[spec.LABEL_PROCESS],
        number=int(labels[spec.LABEL_INSTANCE]),
        release=int(labels[spec.LABEL_RELEASE]),
    )


def _event(event: dict) -> InstanceEvent:
    labels = event["Actor"]["Attributes"]
    return InstanceEvent(app=labels.get(spec.LABEL_APP), kind=event.get("Action", ""),
                         instance=f"{labels.get(spec.LABEL_PROCESS)}.{labels.get(spec.LABEL_INSTANCE)}",
                         engine_name=labels.get("name", ""))


def seconds_since(started_at: str) -> float:
    """Seconds since a time the engine gives (RFC 3339 with nanoseconds), like a container's StartedAt."""
    when = datetime.datetime.fromisoformat(started_at[:26].rstrip("Z") + "+00:00")
    return (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()


def _join(container, networks: tuple[str, ...]):
    """Connect a created container to `networks` besides its app's own (a linked service's) before it starts, so
    that it reaches them from its first moment (the engine takes only one network at create time)."""
    for name in networks:
        client().networks.get(name).connect(container)


def _ensure_network(app: str):
    import docker  # imported here: see DockerLocal.start()

    try:
        client().networks.get(spec.network_name(app))
    except docker.errors.NotFound:
        client().networks.create(spec.network_name(app), driver="bridge", labels={spec.LABEL_APP: app})

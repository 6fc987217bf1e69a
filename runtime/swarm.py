"""The `swarm` scheduler: every instance is a Swarm service of one task, placed by Swarm on an active node of the
cluster, with its web port published in host mode on that node and reached at the node's cluster address
(ponton/core/scheduler.py has the interface it implements; docs/cluster.md the why).

One service per instance, not one per process type with N replicas: ponton's rollout swaps instances one at a
time, health-gated and drained through nginx, which Swarm's own update_config cannot wait for. Swarm still does
what it is good at: placing a task on a node that has room, starting it again when it exits, and rescheduling it
elsewhere when its node is lost.

Each service gets a published port of its own from the port_range setting, unique in the cluster and kept for
its life: a task rescheduled on another node keeps it, and no other app's task can take over an address that
an nginx somewhere still sends this app's requests to.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass

from ponton.core.dockerclient import client, networks_named
from ponton.core.errors import DeployError
from ponton.core.scheduler import InstanceEvent
from runtime import cluster, docker_local, hostports, ingress, node_images, registry, spec, swarm_spec
from runtime.instance import InstanceBase

START_TIMEOUT = 600  # seconds to place, pull and start a task; its health check then has health_timeout
ENDED = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")


@dataclass(eq=False)
class Instance(InstanceBase):
    service: dict  # the engine's inspection of the service
    task: dict | None  # its newest task, if it has one (Swarm deletes the task of a service scaled to none)
    exits: int  # how many of its earlier tasks ran and exited on their own (not one a node refused to start)
    node: str  # the name of the node the task is on ('' before Swarm placed it)
    host: str  # that node's cluster address
    process: str
    number: int
    release: int

    @property
    def id(self) -> str:
        return self.service["ID"]

    @property
    def name(self) -> str:
        return f"{self.process}.{self.number}"

    @property
    def engine_name(self) -> str:
        return self.service["Spec"]["Name"]

    @property
    def _state(self) -> str:
        return self.task["Status"]["State"] if self.task else "new"

    @property
    def status(self) -> str:
        """The task's state in the words docker-local uses: running, exited (stopped, or failed for good), or
        restarting (on its way: placed, pulled, started)."""
        if self._state == "running":
            return "running"
        return "exited" if not self.alive else "restarting"

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def alive(self) -> bool:
        """Meant to run: Swarm starts its task again, on this node or another, until ponton stops it."""
        return swarm_spec.replicas(self.service) > 0

    def published(self, container_port: str) -> int | None:
        if not self.running:
            return None
        target, _, protocol = container_port.partition("/")
        for port in self.task["Status"].get("PortStatus", {}).get("Ports", []):
            if port["TargetPort"] == int(target) and port["Protocol"] == (protocol or "tcp"):
                return port["PublishedPort"]
        return None

    @property
    def uptime(self) -> float | None:
        return docker_local.seconds_since(self.started_at) if self.running else None

    @property
    def started_at(self) -> str:
        """When its task got to its state: a new value means a new task (restarted, rescheduled)."""
        return self.task["Status"]["Timestamp"] if self.task else ""

    @property
    def restarts(self) -> int:
        return self.exits

    @property
    def exit_code(self) -> int | None:
        return (self.task or {}).get("Status", {}).get("ContainerStatus", {}).get("ExitCode")

    @property
    def exit_reason(self) -> str:
        error = (self.task or {}).get("Status", {}).get("Err")
        return f"exit code {self.exit_code}" + (f" ({error})" if error else "")

    def refresh(self):
        fresh = _instance(client().api.inspect_service(self.id), _tasks({"service": self.id}), _nodes())
        self.__dict__.update(fresh.__dict__)


class Swarm:
    name = "swarm"

    def __init__(self, settings):
        self.settings = settings
        self.owner = str(settings.state_dir)

    def instances(self, app: str) -> list[Instance]:
        return _listed({"label": f"{spec.LABEL_APP}={app}"})

    def owned_instances(self) -> dict[str, list[Instance]]:
        by_app: dict[str, list[Instance]] = {}
        for instance in _listed({"label": f"{spec.LABEL_OWNER}={self.owner}"}):
            by_app.setdefault(instance.service["Spec"]["Labels"][spec.LABEL_APP], []).append(instance)
        return by_app

    def owned_apps(self) -> set[str]:
        return {s["Spec"]["Labels"][spec.LABEL_APP]
                for s in client().api.services(filters={"label": f"{spec.LABEL_OWNER}={self.owner}"})}

    def start(self, app: str, process: str, number: int, release, resources: dict | None = None,
              extra_ports: tuple[str, ...] = (), networks: tuple[str, ...] = ()) -> Instance:
        """Returns once Swarm started its task, within START_TIMEOUT: a node's first pull of an image can take long.
        A task a node rejects (its image not pulled yet, its port taken there) is placed again by Swarm."""
        import docker  # imported here: slow to import, and most commands never start an instance

        _ensure_network(app)
        ports = {}
        if process == spec.WEB:
            taken = _published_ports()
            for key in (f"{spec.CONTAINER_PORT}/tcp", *extra_ports):
                ports[key] = hostports.pick(self.settings.ports, taken | set(ports.values()))
        args = spec.container_spec(app, process, number, release, self.owner, resources=resources)
        args["network"] = spec.overlay_name(app)
        args["image"] = registry.distribute(release.image, app, self.settings.state_dir)  # what every node can pull
        try:
            created = client().api.create_service(**swarm_spec.service(args, ports, networks,
                                                                       self.settings.stop_timeout))
        except docker.errors.APIError as e:
            raise DeployError(f"cannot start {process}.{number} from image {release.image}: {e.explanation}") from None
        instance = _wait(created["ID"], START_TIMEOUT, lambda i: i.running)
        if not instance.running:
            self.remove(instance)
            raise DeployError(f"cannot start {process}.{number} from image {release.image}: "
                              f"{(instance.task or {}).get('Status', {}).get('Err') or instance._state}")
        return instance

    def stop(self, instance: Instance, timeout: float):
        """Scaled to no task: Swarm sends SIGTERM, then SIGKILL after the stop grace period (timeout)."""
        self._scale(instance, 0, timeout)
        _wait(instance.id, timeout + 30, lambda i: i.task is None or i._state in ENDED, instance)

    def resume(self, instance: Instance):
        """A new task, where Swarm places it (the port is the service's, the node may differ)."""
        self._scale(instance, 1, None)
        _wait(instance.id, START_TIMEOUT, lambda i: i.running, instance)

    def _scale(self, instance: Instance, replicas: int, stop_timeout: float | None):
        import docker  # imported here: see start()

        try:
            current = client().api.inspect_service(instance.id)
        except docker.errors.NotFound:
            instance.service["Spec"]["Mode"] = {"Replicated": {"Replicas": 0}}
            return
        client().api.update_service(instance.id, current["Version"]["Index"],
                                    **swarm_spec.scaled(current["Spec"], replicas, stop_timeout))

    def remove(self, instance: Instance):
        import docker  # imported here: see start()

        try:
            client().api.remove_service(instance.id)
        except docker.errors.NotFound:  # removed already
            pass

    def remove_network(self, app: str):
        """The overlay network goes once the tasks that used it left it: Swarm takes a moment after a removal."""
        import docker  # imported here: see start()

        deadline = time.monotonic() + 30
        for network in networks_named(spec.overlay_name(app)):
            while True:
                try:
                    network.remove()
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

    def run_once(self, app: str, release, command: str, timeout: float,
                 resources: dict | None = None, networks: tuple[str, ...] = ()) -> tuple[int, str]:
        """On this manager's engine (where the release's image was built), on the app's overlay network."""
        _ensure_network(app)
        return docker_local.run_container(app, release, command, timeout, self.owner, resources,
                                          spec.overlay_name(app), networks)

    def usage(self, instance: Instance, sample: bool = False) -> dict:
        """From the engine of this node, for the tasks it runs. A task on another node (whose engine is not
        reachable from here) is not measured: its cpu_percent is None, never 0.0, which would read as idle and let
        the autoscaler remove instances that may be busy."""
        import docker  # imported here: see start()

        limit = swarm_spec.memory_limit(instance.service)
        container = (instance.task or {}).get("Status", {}).get("ContainerStatus", {}).get("ContainerID")
        if container:
            try:
                found = client().containers.get(container)
            except docker.errors.NotFound:
                found = None
            if found is not None:
                return {**docker_local.container_usage(found, sample), "memory_limit": limit}
        return {"cpu_seconds": 0.0, "cpu_percent": None, "memory": 0, "memory_limit": limit}

    def logs(self, instance: Instance, lines: int | None = None, since: int | None = None) -> list[tuple[str, str]]:
        """Through the manager, from whichever node runs (or ran) its tasks."""
        output = b"".join(client().api.service_logs(instance.id, stdout=True, stderr=True, timestamps=True,
                                                    tail="all" if lines is None else lines, since=since or 0))
        return docker_local.stamped_lines(output)

    def follow_logs(self, instance: Instance, since: int) -> Iterator[str]:
        stream = client(timeout=None).api.service_logs(instance.id, stdout=True, stderr=True, follow=True,
                                                       since=since)
        return docker_local.lines_of(stream)

    def events(self) -> Iterator[InstanceEvent]:
        """Nodes going down or coming back, and services changing: each wakes the watchdog for every app (a task
        on another node dying is seen by that node's engine only; the watchdog's rounds catch it)."""
        stream = client(timeout=None).events(decode=True, filters={"type": ["node", "service"]})
        return (InstanceEvent(app=None, kind=event.get("Action", ""), instance="", engine_name="")
                for event in stream)

    def image_tags(self, repository: str) -> list[str]:
        return docker_local.DockerLocal(self.settings).image_tags(repository)

    def retag_images(self, names: dict[str, str]):
        docker_local.DockerLocal(self.settings).retag_images(names)

    def serve_routes(self, export):
        ingress.publish(export, self.settings.state_dir, self.settings.http_port, self.settings.drain_timeout)

    def remove_images(self, names: set[str]):
        """On the manager, in the cluster's registry, and on every node that pulled them (by the names the
        mirrors give them: those the manager pushed them as)."""
        forgotten = registry.forget(names, self.settings.state_dir)
        docker_local.DockerLocal(self.settings).remove_images(forgotten)
        node_images.remove_everywhere({registry.MIRRORED + n.removeprefix(registry.PUSHED) for n in forgotten
                                       if n.startswith(registry.PUSHED) and "@" in n}, self.settings.state_dir)


def _listed(filters: dict) -> list[Instance]:
    services = client().api.services(filters=filters)
    if not services:
        return []
    tasks, nodes = _tasks({}), _nodes()
    found = [_instance(s, [t for t in tasks if t["ServiceID"] == s["ID"]], nodes) for s in services]
    return sorted(found, key=lambda i: (i.process, i.number, i.release))


def _tasks(filters: dict) -> list[dict]:
    return client().api.tasks(filters=filters)


def _nodes() -> dict[str, dict]:
    return {node["ID"]: node for node in client().api.nodes()}


def _instance(service: dict, tasks: list[dict], nodes: dict[str, dict]) -> Instance:
    labels = service["Spec"]["Labels"]
    task = max(tasks, key=lambda t: t["Version"]["Index"], default=None)
    node = nodes.get((task or {}).get("NodeID", ""), {})
    exits = sum(t is not task and t["Status"]["State"] in ("failed", "complete") for t in tasks)
    return Instance(
        service=service, task=task, exits=exits,
        node=node.get("Description", {}).get("Hostname", ""), host=cluster.address_of(node),
        process=labels[spec.LABEL_PROCESS], number=int(labels[spec.LABEL_INSTANCE]),
        release=int(labels[spec.LABEL_RELEASE]),
    )


def _wait(service_id: str, timeout: float, done, instance: Instance | None = None) -> Instance:
    """The service once `done(instance)` holds, or as it is after `timeout` seconds (polled: the engine's events
    say nothing of a task on another node)."""
    import docker  # imported here: see Swarm.start()

    deadline = time.monotonic() + timeout
    while True:
        try:
            fresh = _instance(client().api.inspect_service(service_id), _tasks({"service": service_id}), _nodes())
        except docker.errors.NotFound:
            if instance is not None:
                instance.service["Spec"]["Mode"] = {"Replicated": {"Replicas": 0}}
                instance.task = None
                return instance
            raise DeployError(f"service {service_id} was removed while it started") from None
        if instance is not None:
            instance.__dict__.update(fresh.__dict__)
            fresh = instance
        if done(fresh) or time.monotonic() > deadline:
            return fresh
        time.sleep(0.1)


def _published_ports() -> set[int]:
    """Every port a service of the cluster publishes (ponton's or not): a new one must not take any of them."""
    return {port["PublishedPort"] for service in client().api.services()
            for port in service["Spec"].get("EndpointSpec", {}).get("Ports", []) if port.get("PublishedPort")}


def _ensure_network(app: str):
    """The app's own overlay network, attachable so that its one-off containers on a manager join it too."""
    import docker  # imported here: see Swarm.start()

    try:
        client().networks.get(spec.overlay_name(app))
    except docker.errors.NotFound:
        client().networks.create(spec.overlay_name(app), driver="overlay", attachable=True,
                                 labels={spec.LABEL_APP: app})

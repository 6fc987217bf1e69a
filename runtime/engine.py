"""The thin layer that talks to the Docker engine. Everything else in ponton gets data from here."""

import datetime
from dataclasses import dataclass

from ponton.core.dockerclient import client
from ponton.core.errors import DeployError
from runtime import hostports, spec


@dataclass
class Instance:
    container: object  # docker.models.containers.Container
    process: str
    number: int
    release: int

    @property
    def name(self) -> str:
        return f"{self.process}.{self.number}"

    @property
    def running(self) -> bool:
        return self.container.status == "running"

    @property
    def alive(self) -> bool:
        """Running, or being restarted by the engine's restart policy (which backs off on its own)."""
        return self.container.status in ("running", "restarting")

    @property
    def port(self) -> int | None:
        """The loopback port the web port is published on, or None when not running."""
        return self.published(f"{spec.CONTAINER_PORT}/tcp")

    def published(self, container_port: str) -> int | None:
        """The loopback port `container_port` (like 7000/udp) is published on, or None when not running."""
        bindings = (self.container.attrs["NetworkSettings"]["Ports"] or {}).get(container_port)
        return int(bindings[0]["HostPort"]) if bindings and self.running else None

    @property
    def uptime(self) -> float | None:
        """Seconds since the container (last) started, or None when not running."""
        return uptime(self.container) if self.running else None

    @property
    def exit_reason(self) -> str:
        state = self.container.attrs["State"]
        if state.get("OOMKilled"):
            return "out of memory"
        return f"exit code {state.get('ExitCode')}" + (f" ({state['Error']})" if state.get("Error") else "")

    def refresh(self):
        self.container.reload()


def uptime(container) -> float:
    """Seconds since the container (last) started."""
    started = container.attrs["State"]["StartedAt"]  # RFC 3339 with nanoseconds
    when = datetime.datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00")
    return (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()


def instances(app: str) -> list["Instance"]:
    return _listed({"label": f"{spec.LABEL_APP}={app}"})


def owned_instances(owner: str) -> dict[str, list[Instance]]:
    """Every container this ponton (identified by its state dir) runs, by app."""
    by_app: dict[str, list[Instance]] = {}
    for instance in _listed({"label": f"{spec.LABEL_OWNER}={owner}"}):
        by_app.setdefault(instance.container.labels[spec.LABEL_APP], []).append(instance)
    return by_app


def _listed(filters: dict) -> list[Instance]:
    found = [_instance(c) for c in client().containers.list(all=True, filters=filters, ignore_removed=True)]
    return sorted(found, key=lambda i: (i.process, i.number, i.release))


def _instance(container) -> Instance:
    labels = container.labels
    return Instance(
        container=container,
        process=labels[spec.LABEL_PROCESS],
        number=int(labels[spec.LABEL_INSTANCE]),
        release=int(labels[spec.LABEL_RELEASE]),
    )


def start(app: str, process: str, number: int, release, owner: str, port_range: tuple[int, int],
          resources: dict | None = None, extra_ports: tuple[str, ...] = (), networks: tuple[str, ...] = ()) -> Instance:
    """Create and start one instance; a web instance gets a fixed loopback port from `port_range`, and one for
    each of `extra_ports` (container ports like 7000/udp, for ports:add). It joins `networks` too (see join)."""
    import docker

    ensure_network(app)
    taken = hostports.used()
    for _ in range(5):  # another deploy may claim the same free port between our pick and our start
        host_port, extra = None, {}
        if process == spec.WEB:
            host_port = hostports.pick(port_range, taken)
            for key in extra_ports:
                extra[key] = hostports.pick(port_range, taken | {host_port, *extra.values()})
        container = None
        try:
            container = client().containers.create(
                **spec.container_spec(app, process, number, release, owner, host_port, resources, extra)
            )
            join(container, networks)
            container.start()
        except docker.errors.APIError as e:
            if container is not None:
                container.remove(force=True)
            if "already allocated" in str(e.explanation) or "address already in use" in str(e.explanation):
                taken.update({host_port, *extra.values()})
                continue
            raise DeployError(f"cannot start {process}.{number} from image {release.image}: {e.explanation}") from None
        container.reload()
        return _instance(container)
    raise DeployError(f"cannot start {process}.{number}: no free loopback port after 5 tries")


def ensure_network(app: str):
    import docker

    try:
        client().networks.get(spec.network_name(app))
    except docker.errors.NotFound:
        client().networks.create(spec.network_name(app), driver="bridge", labels={spec.LABEL_APP: app})


def join(container, networks: tuple[str, ...]):
    """Connect a created container to `networks` besides its app's own (a linked service's) before it starts, so
    that it reaches them from its first moment (the engine takes only one network at create time)."""
    for name in networks:
        client().networks.get(name).connect(container)


def remove_network(app: str):
    for network in client().networks.list(names=[spec.network_name(app)]):
        network.remove()


def stop(instance: Instance, timeout: int):
    """SIGTERM, then SIGKILL after `timeout` seconds. A container removed meanwhile (`docker rm -f`) is stopped
    as well as it can be: a rollout retiring it must not fail, and undo what it did, for that."""
    import docker

    try:
        instance.container.stop(timeout=timeout)
        instance.refresh()
    except docker.errors.NotFound:
        instance.container.attrs["State"]["Status"] = "removed"


def remove(instance: Instance):
    import docker

    try:
        instance.container.remove(force=True)
    except docker.errors.NotFound:  # removed already
        pass


def usage(instance: Instance, sample: bool = False) -> dict:
    """CPU and memory of a running instance, from the engine's stats: CPU seconds used so far, memory in use (page
    cache that can be dropped left out, as `docker stats` does) and its limit (None: no limit). With `sample`,
    the engine takes a second sample (about a second later) and the CPU use in percent of one core is included."""
    stats = instance.container.stats(stream=False, one_shot=not sample)
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
        "memory_limit": instance.container.attrs["HostConfig"].get("Memory") or None,
    }


def logs_tail(instance: Instance, lines: int = 20) -> str:
    return instance.container.logs(tail=lines).decode(errors="replace")


def run_once(app: str, release, command: str, timeout: float, owner: str,
             resources: dict | None = None, networks: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run `command` in a one-off container of the release, on `networks` too; (exit code, output). Killed after
    `timeout` s."""
    import requests

    ensure_network(app)
    container = client().containers.create(**spec.one_off_spec(app, release, command, owner, resources))
    try:
        join(container, networks)
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


def image_tags(repository: str) -> list[str]:
    """Every NAME:TAG of `repository` on the engine."""
    prefix = f"{repository}:"
    return sorted({tag for image in client().images.list(name=repository) for tag in image.tags
                   if tag.startswith(prefix)})


def retag_images(names: dict[str, str]):
    """Give each image its new name (NAME:TAG) instead of its old one; one that no longer exists is skipped."""
    import docker

    for old, new in names.items():
        try:
            image = client().images.get(old)
        except docker.errors.ImageNotFound:
            continue
        repository, _, tag = new.rpartition(":")
        image.tag(repository, tag)
        client().images.remove(old)  # only the name: the image keeps its new one


def remove_images(names: set[str]):
    """Remove these images; one still used by a container stays (it is pruned next time)."""
    import docker

    for name in names:
        try:
            client().images.remove(name)
        except docker.errors.APIError:
            continue

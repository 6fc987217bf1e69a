"""The scheduler seam: everything that places, starts, stops, lists or inspects an app's instances goes through a
Scheduler, so that one server (`docker-local`: containers on this machine's engine) and a cluster (a Swarm
scheduler: tasks spread over nodes) are interchangeable under the pipeline, the proxy and the commands.

The interface lives in the core, and the schedulers register themselves under the `ponton.schedulers` entry-point
group (setup.cfg names the built-in `docker-local`, runtime/docker_local.py), as plugins do under `ponton.plugins`:
the core builds the scheduler its settings name (the `scheduler` setting) without importing any, which keeps
every import pointing down the layers, and a new one is added without touching the core.
"""

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ponton.core.errors import PontonError

ENTRY_POINT_GROUP = "ponton.schedulers"


class Instance(Protocol):
    """One running (or stopped) copy of a process type of a release, as its scheduler last saw it."""

    id: str  # the scheduler's own id for it (a container id, a task id): stable for its life
    process: str
    number: int  # web.1, web.2: unique per process type among the instances meant to run
    release: int  # the release version it runs

    @property
    def name(self) -> str:
        """PROCESS.NUMBER, as users see it: web.1."""

    @property
    def engine_name(self) -> str:
        """The engine's name for it (container or task), as `docker ps` shows it."""

    @property
    def status(self) -> str:
        """The engine's word for its state: running, restarting, exited, created, removed..."""

    @property
    def running(self) -> bool: ...

    @property
    def alive(self) -> bool:
        """Running, or being restarted by the engine's restart policy."""

    @property
    def node(self) -> str:
        """The name of the server it runs on (this one's host name on one server, a node's in a cluster)."""

    @property
    def host(self) -> str:
        """The address its published ports are reached on (127.0.0.1 on one server, a node's address in a
        cluster)."""

    @property
    def port(self) -> int | None:
        """The port its web port is published on, or None when not running."""

    @property
    def address(self) -> str | None:
        """HOST:PORT of its web port (what the proxy sends requests to), or None when not running."""

    def published(self, container_port: str) -> int | None:
        """The port `container_port` (like 7000/udp) is published on, or None when not running."""

    @property
    def uptime(self) -> float | None:
        """Seconds since it (last) started, or None when not running."""

    @property
    def started_at(self) -> str:
        """When it last started, as the engine says it: a new value means the engine restarted it."""

    @property
    def restarts(self) -> int:
        """Times the engine restarted it after it exited (its restart policy)."""

    @property
    def exit_code(self) -> int | None: ...

    @property
    def exit_reason(self) -> str:
        """Why it last exited: "out of memory", "exit code 1"..."""

    def refresh(self):
        """Read its state from the engine again."""


@dataclass(frozen=True)
class InstanceEvent:
    """Something the engine did to an instance on its own: it died, was removed, or ran out of memory."""

    app: str | None
    kind: str  # die, destroy, oom
    instance: str  # PROCESS.NUMBER
    engine_name: str


class Scheduler(Protocol):
    """Where and how an app's instances run. Instances are told apart by the labels (or the like) a scheduler
    gives them: the app, process type, number and release, and the ponton (its state dir) that owns them."""

    name: str

    def instances(self, app: str) -> list[Instance]:
        """Every instance of `app`, running or not, sorted by process type, number and release."""

    def owned_instances(self) -> dict[str, list[Instance]]:
        """Every instance this ponton runs, by app (apps that no longer exist included: orphans)."""

    def owned_apps(self) -> set[str]:
        """The apps of owned_instances(), without looking at each instance (cheap with many apps)."""

    def start(self, app: str, process: str, number: int, release, resources: dict | None = None,
              extra_ports: tuple[str, ...] = (), networks: tuple[str, ...] = ()) -> Instance:
        """Start one instance of `release` (a core.state.Release) and return it, running (not yet healthy). A
        web instance publishes its web port, and each of `extra_ports` (container ports like 7000/udp). It is on
        `networks` too, besides the app's own, from its start (those of the backing services linked to the app)."""

    def stop(self, instance: Instance, timeout: float):
        """SIGTERM, then SIGKILL after `timeout` seconds; one already removed counts as stopped."""

    def resume(self, instance: Instance):
        """Start a stopped instance again, as it was (a rollout putting back what served before)."""

    def remove(self, instance: Instance):
        """Remove a stopped (or any) instance; one already removed is no error."""

    def remove_network(self, app: str):
        """Remove the app's own network (its instances removed first)."""

    def run_once(self, app: str, release, command: str, timeout: float,
                 resources: dict | None = None, networks: tuple[str, ...] = ()) -> tuple[int, str]:
        """Run `command` once in the release's image and environment, on `networks` too as `start` puts an
        instance: (exit code, output); 124 on a timeout."""

    def usage(self, instance: Instance, sample: bool = False) -> dict:
        """cpu_seconds, memory (bytes in use), memory_limit (None: none), and with `sample` cpu_percent (of one
        core, over about a second)."""

    def logs(self, instance: Instance, lines: int | None = None, since: int | None = None) -> list[tuple[str, str]]:
        """Its last `lines` lines of output (all: None), printed after Unix time `since`: (time stamp, line)."""

    def follow_logs(self, instance: Instance, since: int) -> Iterator[str]:
        """The lines it prints from Unix time `since` on, as they come; ends when it stops."""

    def events(self) -> Iterator[InstanceEvent]:
        """The engine's events about this ponton's instances, as they happen. Connects before returning (an
        error here means the engine is unreachable); the iterator raises when the connection is lost."""

    def image_tags(self, repository: str) -> list[str]:
        """Every NAME:TAG of `repository` that instances may run."""

    def retag_images(self, names: dict[str, str]):
        """Give each image (NAME:TAG) its new name instead of the old one; one that no longer exists is skipped."""

    def remove_images(self, names: set[str]):
        """Remove these images; one an instance still uses stays."""

    def serve_routes(self, export: Callable[[str], dict[str, bytes] | None]):
        """Have every other node that serves requests serve the routes `export(origin)` gives (the proxy's
        files, the proxy_export hook's; `origin`: this server's HTTP address), and return once they do."""


@functools.cache
def _registered() -> dict:
    from importlib.metadata import entry_points  # imported here: only commands that touch instances need it

    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def for_settings(settings, name: str | None = None) -> Scheduler:
    """The scheduler named `name` (by default the one the `scheduler` setting names), built for these settings.
    `cluster:init` names `swarm` in the state, which wins over the setting (ponton/core/context.py)."""
    name = name or settings.scheduler
    registered = _registered()
    if name not in registered:
        known = ", ".join(sorted(registered)) or "none (reinstall ponton: its package declares docker-local)"
        raise PontonError(f"setting scheduler: unknown scheduler {name!r}; installed: {known}")
    return registered[name].load()(settings)

"""Moving instances without a failed request: from this server's engine onto the cluster (`cluster:init`), and off
a node that is drained (`nodes:drain`). Both are rollouts: new instances start where they are to run, get
healthy and routed, and only then do the old ones stop, one app at a time, under the app's lock."""

from builder.stacks import ensure_image
from ponton.core import scheduler as schedulers
from ponton.core.context import SCHEDULER_KEY, Ponton
from ponton.core.scheduler import Instance, Scheduler
from ponton.pipeline import deploy
from runtime import cluster, registry


def start_registry(p: Ponton):
    """The cluster's image registry on this manager, and its mirror on every node (runtime/registry.py)."""
    ensure_image(p.settings, registry.IMAGE, registry.DIRECTORY, p.log)
    registry.run(cluster.local_node(), cluster.local_address())
    p.log(f"-----> The cluster's image registry runs on this server (read by nodes on port {registry.READER_PORT}), "
          f"a mirror of it on each node's 127.0.0.1:{registry.MIRROR_PORT}")


def join(p: Ponton, token: str, manager: str, advertise_addr: str | None):
    """Make this server a node of the cluster at `manager` (HOST:PORT), with the image of the registry mirror that
    then runs on it (runtime/registry.py: a node pulls no image before it has its mirror)."""
    ensure_image(p.settings, registry.IMAGE, registry.DIRECTORY, p.log)
    cluster.join(token, manager, advertise_addr)


def left_behind(p: Ponton) -> set[str]:
    """The apps with instances still on the one-server scheduler (a move cut short)."""
    return schedulers.for_settings(p.settings, p.settings.scheduler).owned_apps()


def move_apps(p: Ponton, to: str):
    """Make `to` this ponton's scheduler and move every app's instances onto it from the one-server scheduler
    (the `scheduler` setting's). The watchdog, which sees the change, stops acting on the old scheduler's
    instances and restarts on the new one. Run again after a failure, it moves what is left."""
    old = schedulers.for_settings(p.settings, p.settings.scheduler)
    new = schedulers.for_settings(p.settings, to)
    p.state.set_setting(SCHEDULER_KEY, to)
    p.__dict__["scheduler"] = new  # the cached property: from now on this command's rollouts are the new one's
    moving = Moving(old, new)
    for record in p.state.apps():
        with p.locked(record.name):
            if not old.instances(record.name):
                continue
            p.log(f"-----> Moving {record.name} onto the cluster")
            deploy.move(p, record.name, moving)
            old.remove_network(record.name)


def drain(p: Ponton, node: str, instances: dict[str, list[Instance]]):
    """Replace each app's instances on `node` (which gets no new ones: the caller paused it) by new ones elsewhere,
    health-gated and routed before the old ones stop. `instances` are those on the node, by app."""
    for app, on_node in instances.items():
        with p.locked(app):
            p.log(f"-----> Moving {len(on_node)} instance(s) of {app} off {node}")
            deploy.converge(p, app, unhealthy=frozenset(i.id for i in on_node))


class Moving:
    """Two schedulers as one, for a move: the instances of both, new ones started by the new one, and each
    instance stopped, resumed and removed by the scheduler it belongs to."""

    def __init__(self, old: Scheduler, new: Scheduler):
        self.old, self.new = old, new
        self.name = new.name
        self._owner: dict[str, Scheduler] = {}

    def _of(self, instance: Instance) -> Scheduler:
        return self._owner.get(instance.id, self.new)

    def instances(self, app: str) -> list[Instance]:
        found = []
        for scheduler in (self.old, self.new):
            for instance in scheduler.instances(app):
                self._owner[instance.id] = scheduler
                found.append(instance)
        return found

    def start(self, *args, **kwargs) -> Instance:
        return self.new.start(*args, **kwargs)

    def stop(self, instance: Instance, timeout: float):
        self._of(instance).stop(instance, timeout)

    def resume(self, instance: Instance):
        self._of(instance).resume(instance)

    def remove(self, instance: Instance):
        self._of(instance).remove(instance)

    def logs(self, instance: Instance, lines: int | None = None, since: int | None = None):
        return self._of(instance).logs(instance, lines, since)

    def __getattr__(self, name: str):  # the rest of the interface (run_once, usage, images...): the new one's
        return getattr(self.new, name)

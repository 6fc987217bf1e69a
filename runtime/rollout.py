"""The swap: bring an app's containers to a release and a formation without dropping a request.

Strategies (per app, `deploy:set APP strategy ...`), for web instances:
- rolling (default): `batch` new instances at a time: start them, wait until healthy, route traffic to them and
  take as many old ones out of the routing (the proxy hook returns once the old routing has drained); the old
  ones are stopped in the background (after `wait_to_retire`), so that an app slow to stop, or one that ignores
  SIGTERM until stop_timeout's SIGKILL, never holds up the next swap.
- blue-green: start the whole new set, wait until all are healthy, switch all traffic at once. With
  `wait_to_retire`, the old set stays up, unrouted, for that long (the caller records it as standby), so a
  rollback within that window just switches back.
- canary: start the whole new set and route `canary_weight`% of requests to it (or the first of
  `canary_steps`; the caller moves it through the steps); nothing is retired until the caller promotes (another rollout to the new release) or aborts (a rollout back to the old one).
- recreate: stop every old instance first, then start the new ones (downtime: for apps that cannot run two
  versions side by side).
Other process types are replaced one at a time, without routing.

If anything fails midway (a new instance never gets healthy, the proxy refuses, the engine errs, no port is
free), the old ones stopped so far are started again, routing goes back to them, the new ones are removed and
DeployError is raised. Old containers are removed only once the rollout succeeded; those still stopping by then
(after a deploy, most; an app that ignores SIGTERM) are left in `pending`, for the caller to finish without making
the user wait.
"""

import concurrent.futures
import functools
import math
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from ponton.core.context import Log
from ponton.core.errors import DeployError, PontonError
from ponton.core.scheduler import Instance, Scheduler
from runtime import health
from runtime.spec import WEB

# Routes the app's requests to these web instances (weighted by instance; None: equal shares); returns once the
# old routing drained. The instances, not their ports: the caller knows where each is reached (its address).
Route = Callable[[list[Instance], dict[Instance, int] | None], None]
Backend = TypeVar("Backend", bound=Hashable)
STRATEGIES = ("rolling", "blue-green", "canary", "recreate")
SETTLE = 1.0  # seconds the end of a scale-down waits for retired instances to stop before leaving them to the caller


@dataclass(frozen=True)
class Strategy:
    name: str = "rolling"
    batch: int = 1  # rolling: instances replaced at a time
    wait_to_retire: float = 0.0  # seconds an instance out of the routing keeps running before it is stopped
    canary_weight: int = 20  # canary: percent of requests that go to the new release
    canary_duration: float = 0.0  # canary: seconds each step lasts; after the last, promoted (0: never)
    canary_steps: tuple[int, ...] = ()  # canary: the shares it goes through (default: just canary_weight)

    @property
    def canary_plan(self) -> tuple[int, ...]:
        return self.canary_steps or (self.canary_weight,)

    def canary_share(self, until: float | None, now: float) -> int:
        """The canary's share at `now`: the step reached, counting canary_duration per step back from `until`
        (when the watchdog promotes it). Without a duration, the first step until promoted."""
        plan = self.canary_plan
        if not until or not self.canary_duration:
            return plan[0]
        steps_left = math.ceil(max(until - now, 0) / self.canary_duration)
        return plan[min(max(len(plan) - steps_left, 0), len(plan) - 1)]


def canary_weights(old: list[Backend], new: list[Backend], share: int) -> dict[Backend, int] | None:
    """Weights (by backend: an instance, an address) so that `share`% of requests reach the `new` backends,
    whatever the counts."""
    if not old or not new:
        return None
    new_weight, old_weight = share * len(old), (100 - share) * len(new)
    divisor = math.gcd(new_weight, old_weight)
    return {**{backend: old_weight // divisor for backend in old},
            **{backend: new_weight // divisor for backend in new}}


class Rollout:
    def __init__(self, app: str, release, settings, scheduler: Scheduler, route: Route, log: Log,
                 strategy: Strategy = Strategy(), resources: dict[str, dict] | None = None,
                 extra_ports: tuple[str, ...] = (), networks: Callable[[], tuple[str, ...]] = tuple):
        self.app = app
        # The networks every new instance joins besides the app's own (linked services), asked for when one
        # starts: the watchdog's rounds, which mostly start nothing, spent a third of their time finding them.
        self._networks = networks
        self.extra_ports = extra_ports  # container ports web instances publish besides the web port (7000/udp)
        self.release = release
        self.settings = settings
        self.scheduler = scheduler
        self.route = route
        self.log = log  # each step, as the deploy's output (the pusher reads it)
        self.strategy = strategy
        self.resources = resources or {}  # process type -> Docker arguments (limits, reservations)
        self.started: list[Instance] = []
        self.retired: list[Instance] = []
        self.routed: list[Instance] = []
        self.kept_old: list[Instance] = []  # old web instances left running: blue-green standby, canary
        self.stopping: dict[Instance, concurrent.futures.Future] = {}  # retired, being stopped in the background
        self.killed_at: dict[Instance, float] = {}  # when each retired one gets SIGKILL at the latest
        self.pending: list[tuple[Instance, float]] = []  # after run(): still stopping, with their SIGKILL time

    def run(self, formation: dict[str, int], replace: bool = False, unhealthy: frozenset[str] = frozenset(),
            reuse: frozenset[int] = frozenset(), spare: frozenset[int] = frozenset(),
            finish: Callable[[], None] | None = None, current: list[Instance] | None = None):
        """Converge to `formation` of this release.

        replace: renew instances already on the release (ps:restart); unhealthy: instance ids to renew even so
        (the watchdog); reuse: other release versions whose instances are as good as this one's (an identical
        release: an instant rollback to a blue-green standby); spare: release versions whose live instances are
        left alone (a standby or canary's old set that must outlive this rollout); finish: a last step once the new
        instances serve (app.json postdeploy), before the old containers are removed: if it fails, it is undone too;
        current: the app's instances as the caller just listed them (the watchdog), instead of listing them again.
        """
        self.reusable_versions = reuse | {self.release.version}
        self.unhealthy, self.spare = unhealthy, spare
        try:
            current = self.scheduler.instances(self.app) if current is None else current
            processes = sorted(set(formation) | {i.process for i in current}, key=lambda p: (p != WEB, p))
            for process in processes:
                mine = [i for i in current if i.process == process]
                wanted = formation.get(process, 0) if process in self.release.processes else 0
                self._converge(process, mine, wanted, replace)
            if finish:
                finish()
        except BaseException as e:  # whatever failed, what served before serves again (Ctrl-C, SIGTERM included)
            try:
                self._undo()
            except Exception as undo_error:
                raise DeployError(f"{self.release.label} failed ({_reason(e)}), and putting back the previous "
                                  f"instances failed too ({_reason(undo_error)}): the watchdog retries") from e
            if isinstance(e, PontonError) or not isinstance(e, Exception):
                raise
            raise DeployError(f"{self.release.label} could not be rolled out: {_reason(e)}") from e
        if not self.started:  # a scale-down: its instances are usually gone when it returns, as users expect
            concurrent.futures.wait(self.stopping.values(), timeout=SETTLE)
        # A rollout that started instances returns once they serve: the old ones stop while the user reads that.
        for instance in self.retired:
            if self.stopping[instance].done():
                self.scheduler.remove(instance)
            else:
                self.pending.append((instance, self.killed_at[instance]))

    @functools.cached_property
    def networks(self) -> tuple[str, ...]:
        return self._networks()

    @property
    def changed(self) -> bool:
        """Whether run() started or retired any instance (else the app's instances are as they were)."""
        return bool(self.started or self.retired)

    def _converge(self, process: str, current: list[Instance], wanted: int, replace: bool):
        reusable = [] if replace else [
            i for i in current if i.release in self.reusable_versions and i.alive and i.id not in self.unhealthy
        ]
        keep = reusable[:wanted]
        spared = [i for i in current if i not in keep and i.release in self.spare and i.alive]
        old = [i for i in current if i not in keep and i not in spared]
        taken = {i.number for i in keep}
        numbers = [n for n in range(1, wanted + len(keep) + 1) if n not in taken][: wanted - len(keep)]
        if process != WEB:
            self._one_by_one(process, numbers, old)
            return
        self.routed = [i for i in current if i.running and i in keep + old]
        # Nothing new to start: retire the rest (blue-green keeps them as standby, for an instant way back).
        name = self.strategy.name if numbers or self.strategy.name == "blue-green" else "rolling"
        if name == "recreate":
            self._switch(add=[], remove=old)
            self._retire(old)
            self._stopped(old)  # the two versions must never run side by side
            self._switch(add=[self._start(process, n) for n in numbers], remove=[])
        elif name == "blue-green":
            new = [self._start(process, n) for n in numbers]
            self._switch(add=new, remove=old)
            standby = [i for i in old if i.running] if self.strategy.wait_to_retire else []
            self.kept_old += standby
            self._retire([i for i in old if i not in standby])
        elif name == "canary":
            new = [self._start(process, n) for n in numbers]
            self.routed += new
            self.kept_old += [i for i in old if i.running]
            self._retire([i for i in old if not i.running])
            old_serving = [i for i in self.routed if i not in new and i.port]
            self._route(weights=canary_weights(old_serving, [i for i in new if i.port], self.strategy.canary_plan[0]))
        else:
            self._rolling(process, numbers, old)

    def _rolling(self, process: str, numbers: list[int], old: list[Instance]):
        batch = max(1, self.strategy.batch)
        for first in range(0, len(numbers), batch):
            new = [self._start(process, n) for n in numbers[first:first + batch]]
            victims, old = old[:len(new)], old[len(new):]
            self._switch(add=new, remove=victims)
            self._retire(victims)
        if old:
            self._switch(add=[], remove=old)
            self._retire(old)

    def _one_by_one(self, process: str, numbers: list[int], old: list[Instance]):
        for number in numbers:
            self._start(process, number)
            if old:
                self._retire([old.pop(0)])
        self._retire(old)

    def _start(self, process: str, number: int) -> Instance:
        self.log(f"-----> Starting {process}.{number} ({self.release.label})")
        instance = self.scheduler.start(self.app, process, number, self.release, self.resources.get(process),
                                        self.extra_ports, self.networks)
        self.started.append(instance)
        health.wait_healthy(self.scheduler, instance, self.release.healthchecks.get(process, []),
                            self.settings.health_timeout, self.log)
        self.log(f"       {process}.{number} is healthy")
        return instance

    def _switch(self, add: list[Instance], remove: list[Instance]):
        self.routed = [i for i in self.routed if i not in remove] + add
        self._route()

    def _route(self, weights: dict[Instance, int] | None = None):
        self.route([i for i in self.routed if i.port], weights)

    def _retire(self, instances: list[Instance]):
        """Stop `instances` (out of the routing already) in the background, each on its own: after the strategy's
        wait_to_retire, SIGTERM, and SIGKILL after stop_timeout."""
        wait = self.strategy.wait_to_retire if any(i.running for i in instances) else 0
        for instance in instances:
            self.log(f"-----> Stopping {instance.name} (v{instance.release})"
                     + (f" in {wait:g}s (wait-to-retire)" if wait else ""))
            self.retired.append(instance)
            self.stopping[instance] = self._in_background(self._stop, instance, wait)
            self.killed_at[instance] = time.time() + wait + self.settings.stop_timeout

    def _stop(self, instance: Instance, wait: float):
        time.sleep(wait)  # the user's chosen grace period, not a readiness check
        self.scheduler.stop(instance, self.settings.stop_timeout)

    @staticmethod
    def _in_background(function, *args) -> concurrent.futures.Future:
        """Run `function` on a daemon thread: one still stopping an instance must not keep the process (a push)
        alive once the rollout is done; the caller finishes what it leaves in `pending`."""
        future = concurrent.futures.Future()

        def run():
            try:
                future.set_result(function(*args))
            except BaseException as e:
                future.set_exception(e)

        threading.Thread(target=run, daemon=True).start()
        return future

    def _stopped(self, instances: list[Instance]):
        """Wait until `instances` are stopped; a stop that failed fails the rollout."""
        for instance in instances:
            self.stopping[instance].result()

    def _undo(self):
        """Put back what served before: restart retired instances, route to them, remove the new ones."""
        self.log("-----> Rolling back: the previous instances keep serving", err=True)
        concurrent.futures.wait(self.stopping.values())  # each ends within its wait-to-retire and stop_timeout
        for instance in self.retired:
            self.scheduler.resume(instance)
            if instance.process == WEB:
                health.wait_healthy(self.scheduler, instance, [], self.settings.health_timeout)
        restored = self.retired + [i for i in self.routed if i not in self.started]
        if any(i.process == WEB for i in self.started + self.retired):
            self.route([i for i in restored if i.process == WEB and i.port], None)
        for instance in self.started:
            self.scheduler.stop(instance, self.settings.stop_timeout)
            self.scheduler.remove(instance)


def _reason(error: Exception) -> str:
    docker_errors = sys.modules.get("docker.errors")
    if isinstance(error, PontonError):
        return str(error)
    if docker_errors is not None and isinstance(error, docker_errors.DockerException):
        return f"Docker engine: {error}"
    return f"{type(error).__name__}: {error}"

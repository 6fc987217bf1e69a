"""The watchdog: compares each app's recorded desired state with the engine and mends the difference.

- A missing, stopped or exited instance is replaced, through the same health-gated rollout as a deploy.
- A web instance failing its health probe UNHEALTHY_AFTER times in a row is replaced (traffic moves first). One
  the engine restarted (after a crash) is given the time a deploy gives a new instance to answer again, and is
  out of the routing until it does.
- A crash loop is left to the engine's restart policy (which backs off per container) and reported.
- Containers of this ponton that belong to no app are removed; routing is re-rendered when it drifted.
- Processes under ps:autoscale follow their load (pipeline/autoscaler.py), in a thread of their own.
- It reacts to the engine's events within a second and reconciles everything every `interval` as a safety net.
- It never fights a deploy: an app whose lock is held is skipped until the next round.
- When its own attempts fail, it backs off exponentially per app.
- Apps are mended in parallel, each by one of HEALERS worker threads (one app never by two at once): mending
  one app takes as long as its rollout and health checks, and must not hold up another app's.
- Each round, the plugins get theirs (`watchdog_round`: backing services' health and scheduled backups), in a
  thread of its own, one at a time: a long backup holds up neither the apps nor the next round's start.
"""

import concurrent.futures
import http.client
import os
import queue
import socket
import sys
import threading
import time
import traceback

from ponton.core.context import SCHEDULER_KEY, Ponton
from ponton.core.errors import DeployError, PontonError, ProxyError
from ponton.core.lock import app_lock
from ponton.core.scheduler import Instance, InstanceEvent
from ponton.features import exporter, letsencrypt
from ponton.pipeline import certificates, deploy, routing
from ponton.pipeline.autoscaler import Autoscaler
from runtime import health
from runtime.spec import WEB

UNHEALTHY_AFTER = 3
CRASH_LOOP_RESTARTS = 3
MAX_BACKOFF = 300
HEALERS = 8  # apps mended at the same time
KEEPALIVE_EVERY = 10  # seconds between systemd keep-alives; WatchdogSec= in the unit is 30
ALL = "*"
RESTART_EXIT = 75  # EX_TEMPFAIL: started again by its supervisor


class Watchdog:
    def __init__(self, p: Ponton, interval: float):
        self.settings = p.settings
        self._say = p.log  # the face's: where the watchdog's journal goes
        p.log = self.log  # what its rollouts say goes there too, stamped as its own lines
        self._local = threading.local()  # a Ponton per thread: its State's sqlite connection is the thread's own
        self._local.p = p
        self._healers = concurrent.futures.ThreadPoolExecutor(HEALERS, thread_name_prefix="heal")
        self._healing: set[str] = set()  # apps a healer has in hand
        self._again: set[str] = set()  # of those, the ones woken again meanwhile: mended once more after
        self._healing_lock = threading.Lock()
        self._plugins_busy = threading.Lock()  # held while the plugins' round runs
        self._sharing = threading.Lock()  # held while the routes go to a cluster's other ingress nodes
        self.interval = interval
        self.owner = str(p.settings.state_dir)
        self.probe_failures: dict[str, int] = {}  # instance id -> failed health probes in a row
        self.answered: dict[str, str] = {}  # instance id -> its start time (started_at) when it last answered a probe
        self.backoff: dict[str, tuple[int, float]] = {}  # app -> (failed attempts, not before)
        self.wakeups: queue.Queue[str] = queue.Queue()
        self.ooms: queue.Queue[InstanceEvent] = queue.Queue()  # instances the kernel killed for their memory
        self.progress = time.monotonic()  # when the loop last started or finished a step

    @property
    def p(self) -> Ponton:
        if not hasattr(self._local, "p"):
            self._local.p = Ponton(self.settings, log=self.log)
        return self._local.p

    def log(self, message: str, err: bool = False):
        """One line of the watchdog's journal, with the time (errors included: the journal is the one place)."""
        self._say(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}")

    def run_forever(self):
        threading.Thread(target=self._watch_events, daemon=True).start()
        self._serve_metrics()
        notify("READY=1")
        threading.Thread(target=self._keep_alive, daemon=True).start()
        threading.Thread(target=Autoscaler(self.settings, self.log).run_forever, daemon=True).start()
        self.log(f"watchdog started (state {self.owner}, every {self.interval:g}s)")
        due = 0.0
        while True:
            if time.monotonic() >= due:
                self.reconcile_all()
                due = time.monotonic() + self.interval
            self.progress = time.monotonic()
            try:
                app = self.wakeups.get(timeout=max(0.0, due - time.monotonic()))
            except queue.Empty:
                continue
            self._guarded(self._record_ooms)
            if app == ALL:
                due = 0.0
            else:
                self.heal_soon(app)

    def reconcile_all(self):
        if self.scheduler_changed():
            self.log("this server's scheduler changed (cluster:init): restarting on the new one")
            sys.exit(RESTART_EXIT)  # its supervisor (systemd, install.sh's) starts it again
        self.p.state.set_setting("watchdog_heartbeat", f"{time.time():.0f} {os.getpid()}")
        names = [app.name for app in self.p.state.apps()]
        for name in names:
            self.heal_soon(name)
        self._guarded(self.remove_orphans, set(names))
        # The web face's certificate, by a healer (issuing takes a while); its own Ponton: the healer's thread's.
        self._healers.submit(lambda: self._guarded(self.renew_certificate, certificates.web(self.p)))
        # A cluster's ingress node that was down, or joined, gets the routes (a healer too: it may wait for it).
        if self._sharing.acquire(blocking=False):
            self._healers.submit(self._share_routes)
        if self._plugins_busy.acquire(blocking=False):  # else the last one is still at it: it is not run twice
            threading.Thread(target=self._plugins_round, daemon=True).start()

    def _share_routes(self):
        try:
            self._guarded(routing.share, self.p)
        finally:
            self._sharing.release()

    def _plugins_round(self):
        try:
            self._guarded(self.plugins_round)
        finally:
            self._plugins_busy.release()

    def plugins_round(self):
        self.p.hooks.watchdog_round(settings=self.settings, log=self.log)

    def scheduler_changed(self) -> bool:
        """Another scheduler runs the apps now: this watchdog's must not act on them (nor on their old instances,
        which cluster:init is moving), until it restarts."""
        return (self.p.state.setting(SCHEDULER_KEY, "") or self.settings.scheduler) != self.p.scheduler.name

    def heal_soon(self, app: str):
        """Have a healer reconcile `app`, without waiting for it; if one is at it already, once more after."""
        with self._healing_lock:
            if app in self._healing:
                self._again.add(app)
                return
            self._healing.add(app)
        self._healers.submit(self._heal, app)

    def _heal(self, app: str):
        while True:
            self._guarded(self.reconcile, app)
            # Here, not in a round of its own: the app's lock is free between this healer's steps, where another
            # round's renewal, not waiting for locks, could find every app always being healed.
            self._guarded(self.renew_certificate, certificates.app(self.p, app))
            with self._healing_lock:
                if app not in self._again:
                    self._healing.discard(app)
                    return
                self._again.discard(app)

    def reconcile(self, app: str):
        state = self.p.state
        with app_lock(self.settings.state_dir, app, wait=False) as locked:
            if not locked or not state.app_exists(app) or self.scheduler_changed():
                return
            release = state.current_release(app)
            if release is None:
                return
            record = state.app(app)
            if record.canary_version is not None:  # two releases serve on purpose: only step or promote
                if record.canary_until and record.canary_until <= time.time():
                    self.log(f"{app}: canary v{record.canary_version} ran its time: promoting it")
                    deploy.promote(self.p, app)
                else:
                    routing.reroute(self.p, app)  # its next step's share, once due (else nothing changes)
                return
            instances = self.p.scheduler.instances(app)
            self._report_crash_loops(app, instances)
            unhealthy, starting = self._probe(app, release, instances)
            attempts, not_before = self.backoff.get(app, (0, 0.0))
            if time.monotonic() < not_before:
                return
            try:
                rollout = deploy.converge(self.p, app, unhealthy=frozenset(unhealthy), instances=instances)
            except (DeployError, ProxyError) as e:
                delay = min(2 ** attempts, MAX_BACKOFF)
                self.backoff[app] = (attempts + 1, time.monotonic() + delay)
                self.log(f"{app}: could not restore its instances (retrying in {delay}s): {e}")
                return
            self.backoff.pop(app, None)
            if rollout and rollout.changed:
                self._record_replacements(app, instances)
                routing.reroute(self.p, app, starting=frozenset(starting))
            else:  # as they were: not listed again (with many apps, listings were most of an idle round's work)
                routing.reroute(self.p, app, starting=frozenset(starting), instances=instances)

    def renew_certificate(self, subject: certificates.Subject):
        """Renew the Let's Encrypt certificate of an app (or of the web face) when due (30 days before expiry;
        failures back off), under its lock. A failed renewal keeps the installed certificate and is recorded for
        letsencrypt:list."""
        issuance = subject.issuance() if subject.web or subject.p.state.app_exists(subject.name) else None
        if issuance is None or not letsencrypt.due(issuance, subject.installed()):
            return
        with app_lock(self.p.settings.state_dir, subject.cert_name, wait=False) as locked:
            if not locked:
                return
            self.log(f"{subject.name}: renewing its Let's Encrypt certificate")
            try:
                certificates.renew_letsencrypt(subject)
            except PontonError as e:
                self.log(f"{subject.name}: renewing failed, the installed certificate stays: {e}")

    def remove_orphans(self, apps: set[str]):
        """Instances this ponton started for apps that no longer exist (a destroy interrupted midway)."""
        scheduler = self.p.scheduler
        if not scheduler.owned_apps() - apps:  # the usual case, from one cheap listing
            return
        for app, instances in scheduler.owned_instances().items():
            if app not in apps:
                self.log(f"removing {len(instances)} container(s) of unknown app {app}")
                for instance in instances:
                    scheduler.remove(instance)
                scheduler.remove_network(app)

    def _probe(self, app: str, release, instances: list[Instance]) -> tuple[set[str], set[str]]:
        """Probe the running web instances of the release: (ids of those that failed UNHEALTHY_AFTER probes in a
        row, ids of those still starting).

        An instance the engine restarted after a crash (its restart policy) has not answered since that start: it
        is starting, like a new instance in a deploy, so its probes do not count until it answered once or has
        been up for health_timeout (events wake the loop several times around a crash, so three probes can fall
        within a second). Until it answers, it stays out of the routing (routing.reroute)."""
        path = next((c.get("path", "/") for c in release.healthchecks.get(WEB, []) if c.get("type") == "liveness"), "/")
        unhealthy, starting = set(), set()
        for instance in instances:
            if instance.process != WEB or not instance.running or instance.release != release.version:
                continue
            cid, started = instance.id, instance.started_at
            try:
                status, _ = health.probe(instance, path)
                self.answered[cid] = started
                healthy = status < 500
            except (OSError, http.client.HTTPException):
                healthy = False
            restarted = instance.restarts and self.answered.get(cid) != started
            if restarted and (instance.uptime or 0) < self.p.settings.health_timeout:
                starting.add(cid)
                self.probe_failures[cid] = 0
                continue
            self.probe_failures[cid] = 0 if healthy else self.probe_failures.get(cid, 0) + 1
            if self.probe_failures[cid] >= UNHEALTHY_AFTER:
                self.log(f"{app}: {instance.name} failed {UNHEALTHY_AFTER} health probes in a row: replacing it")
                self.p.state.add_event(app, "watchdog", "health", f"{instance.name} failed {UNHEALTHY_AFTER} probes")
                self.p.state.set_instance_status(app, instance.name, "unhealthy", f"GET {path} failed")
                unhealthy.add(cid)
        return unhealthy, starting

    def _report_crash_loops(self, app: str, instances: list[Instance]):
        for instance in instances:
            restarts = instance.restarts
            looping = instance.status == "restarting" or (
                restarts >= CRASH_LOOP_RESTARTS and (instance.uptime or 0) < self.interval * 3
            )
            status = self.p.state.instance_statuses(app).get(instance.name)
            if looping:
                self.p.state.set_instance_status(
                    app, instance.name, "crash-looping", f"restarted {restarts} times; last {instance.exit_reason}"
                )
            elif status is not None and instance.running:
                self.p.state.set_instance_status(app, instance.name, None)

    def _record_replacements(self, app: str, before: list[Instance]):
        after = {i.id for i in self.p.scheduler.instances(app)}
        for instance in before:
            if instance.id not in after:
                self.p.state.add_event(app, "watchdog", "replace", f"replaced {instance.name} ({instance.status})")

    def _record_ooms(self):
        """The engine restarts an instance killed for going over its memory limit (backing off); say so in events."""
        while not self.ooms.empty():
            event = self.ooms.get()
            app, name = event.app, event.instance
            if app and self.p.state.app_exists(app):
                self.log(f"{app}: {name} ran out of memory")
                self.p.state.add_event(app, "watchdog", "oom", f"{name} ran out of memory (container "
                                                               f"{event.engine_name}; the engine restarts it)")

    def _serve_metrics(self):
        try:
            if exporter.serve(self.p.settings, self.p.scheduler):
                self.log(f"Prometheus metrics on http://127.0.0.1:{self.p.settings.metrics_port}/metrics")
        except OSError as e:  # the port is taken: keeping apps running matters more than metrics
            self.log(f"cannot serve metrics on port {self.p.settings.metrics_port}: {e}")

    def _watch_events(self):
        """Wake the loop when one of our instances dies or disappears; after the engine is back, check all."""
        delay = 1
        while True:
            try:
                events = self.p.scheduler.events()
                self.wakeups.put(ALL)  # (re)connected: the engine may have restarted
                for event in events:
                    if event.kind == "oom":
                        self.ooms.put(event)
                    self.wakeups.put(event.app or ALL)
                    delay = 1
            except Exception as e:  # the engine went away: any error of the stream means reconnect
                self.log(f"engine event stream lost ({type(e).__name__}); reconnecting in {delay}s")
            time.sleep(delay)
            delay = min(delay * 2, 30)

    def _guarded(self, step, *args):
        """One app's trouble (or the engine's) must not stop the watchdog: log it and go on."""
        self.progress = time.monotonic()
        try:
            step(*args)
        except Exception:
            self.log(f"{step.__name__}{args}: {traceback.format_exc(limit=3).strip()}")
        self.progress = time.monotonic()

    def _keep_alive(self):
        """systemd's keep-alives, sent while the loop makes progress. One step may legitimately take as long as
        a deploy (mending an app rolls instances out one by one), so only a step stuck for longer than
        release_timeout stops them, and systemd then restarts the watchdog."""
        while True:
            if time.monotonic() - self.progress < self.settings.release_timeout:
                notify("WATCHDOG=1")
            time.sleep(KEEPALIVE_EVERY)


def notify(message: str):
    """sd_notify: tell systemd we are ready / alive (Type=notify, WatchdogSec=)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), address)

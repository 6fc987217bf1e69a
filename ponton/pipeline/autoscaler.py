"""The autoscaler, run by the watchdog: it samples the load of every process under ps:autoscale (requests/s and
latency p90 from the proxy's access log, CPU from the scheduler) three times per `autoscale_interval`, decides
once per interval (the setting, or the policy's own: app.json's polling_interval_seconds) with
features/autoscale.py's `decide`, a pure function, and applies a change through the same health-gated rollout
as ps:scale, under the app's lock (a deploy holding it is never fought: the change waits for the next round)."""

import collections
import concurrent.futures
import time

from ponton.core.context import Ponton
from ponton.core.lock import app_lock
from ponton.core.state.records import Autoscale
from ponton.core.undo import undone_on_failure
from ponton.features import accesslog, metrics, quota
from ponton.features.autoscale import Policy, Sample, decide
from ponton.pipeline import deploy

SAMPLES_PER_INTERVAL = 3
MIN_WINDOW = 3  # seconds of requests in a sample at least: the access log's times are whole seconds


class Autoscaler:
    def __init__(self, settings, log):
        self.settings, self.log = settings, log
        self.interval = settings.autoscale_interval
        self.every = self.interval / SAMPLES_PER_INTERVAL  # seconds of load in one sample
        self.samples: dict[tuple[str, str], collections.deque[Sample]] = {}
        self.decided: dict[tuple[str, str], float] = {}  # when each process was last decided on

    def run_forever(self):
        p = Ponton(self.settings)  # this thread's own: its state connection is not shared
        p.log = self.log
        while True:
            started = time.monotonic()
            try:
                self.round(p)
            except Exception as e:  # the state or the engine away: keep the counts, try again next round
                self.log(f"autoscaler: {type(e).__name__}: {e}")
            time.sleep(max(0.0, self.every - (time.monotonic() - started)))  # the sampling period, not readiness

    def round(self, p: Ponton, now: float | None = None):
        """Sample every autoscaled process; decide on those whose interval has passed."""
        now = time.time() if now is None else now
        policies = p.state.autoscale_policies()
        for key in set(self.samples) - {(a.app, a.process) for a in policies}:  # turned off, or app gone
            self.samples.pop(key)
        for record in policies:
            key = (record.app, record.process)
            samples = self.samples.setdefault(key, collections.deque())
            try:
                samples.append(self._sample(p, record, now))
            except Exception as e:  # a sample of nothing: decide() then keeps the count, and says why
                self.log(f"autoscaler: {record.app} {record.process}: no sample: {type(e).__name__}: {e}")
                samples.append(Sample(now, 0, failed=(f"{type(e).__name__}: {' '.join(str(e).split())}",)))
            interval = self.interval if record.interval is None else record.interval
            while samples and samples[0].time < now - record.cooldown - interval:
                samples.popleft()
            if now - self.decided.get(key, 0.0) >= interval - self.every / 2:
                self.decided[key] = now
                try:
                    self._decide(p, record, list(samples), now, interval)
                except Exception as e:  # this app's rollout failed: the others are still decided on
                    self.log(f"autoscaler: {record.app} {record.process}: {type(e).__name__}: {e}")

    def _sample(self, p: Ponton, record: Autoscale, now: float) -> Sample:
        running = [i for i in p.scheduler.instances(record.app) if i.process == record.process and i.running]
        rps = latency = cpu = None
        failed = []  # what could not be measured, and why: decide() keeps the count on it, and says so
        if record.rps is not None or record.latency_p90 is not None:
            log = accesslog.path(p.settings, record.app)
            since = int(now - max(self.every, MIN_WINDOW))  # a whole second: what was logged at it is all in
            try:
                logged = accesslog.recent(log, since, missing_ok=False)
            except OSError as e:  # no log (never written, rotated away) or unreadable: no data, not no requests
                failed.append(f"the access log {log}: {e.strerror or e}")
            else:
                addresses = {i.address for i in running if i.address}  # where the proxy sends them, on any node
                requests = [r for r in logged if r.backend in addresses]
                rps = len(requests) / (now - since)
                p90 = metrics.percentile([r.duration for r in requests], 0.9)
                latency = None if p90 is None else p90 * 1000
        if record.cpu is not None and running:
            with concurrent.futures.ThreadPoolExecutor(len(running)) as pool:  # each waits a second for its sample
                used = list(pool.map(lambda i: p.scheduler.usage(i, sample=True)["cpu_percent"], running))
            measured = [u for u in used if u is not None]
            if measured:
                # An instance not measured (a task on a node this engine cannot reach) is taken to be as busy as
                # the measured ones, not idle: CPU is summed over all `running`, as decide() divides it.
                cpu = sum(measured) / len(measured) * len(running)
            else:
                failed.append(f"CPU not measured on any of its {len(running)} running instances")
        return Sample(now, len(running), rps, cpu, latency, tuple(failed))

    def _decide(self, p: Ponton, record: Autoscale, samples: list[Sample], now: float, interval: float):
        app, process = record.app, record.process
        if p.state.current_release(app) is None or p.state.app(app).stopped:
            return
        formation = p.state.formation(app)
        current = formation.get(process, 0)
        policy = Policy(record.minimum, record.maximum, record.rps, record.cpu, record.latency_p90, record.cooldown)
        decision = decide(policy, current, samples, now, record.last_change,
                          quota.instances_allowed(p, app, process), interval)
        if decision.desired == current:
            p.state.record_autoscale_decision(app, process, current, decision.reason, now, changed=False)
            return
        with app_lock(p.settings.state_dir, app, wait=False) as locked:
            if not locked:
                return  # a deploy or a command has the app: decided again next round, on what it left
            self.log(f"autoscaler: {app} {process}: {decision.reason}")
            p.state.record_autoscale_decision(app, process, decision.desired, decision.reason, now, changed=True)
            p.state.add_event(app, "autoscaler", "autoscale", f"{process}={decision.desired}: {decision.reason}")
            with undone_on_failure(lambda: p.state.set_formation(app, formation)):
                quota.set_formation(p, app, {**formation, process: decision.desired})
                deploy.converge(p, app)

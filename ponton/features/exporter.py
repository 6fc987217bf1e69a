"""Prometheus metrics, served by the watchdog on 127.0.0.1:metrics_port/metrics.

Computed at each scrape: the engine's stats of every instance (one-shot, no waiting), the requests appended to
each app's access log since the last scrape (the whole log at the first one), and latency quantiles over the
last WINDOW seconds (a summary: quantiles over a sliding window, count and sum since the watchdog started).
"""

import threading
import time
from collections import Counter, defaultdict

from ponton.core.scheduler import Scheduler
from ponton.core.state import State
from ponton.features import accesslog, metrics

WINDOW = 60.0
LABELS = ["app", "process", "instance"]


class Collector:
    def __init__(self, settings, scheduler: Scheduler):
        self.settings = settings
        self.scheduler = scheduler
        self.followers: dict[str, accesslog.Follower] = {}
        self.instance_at: dict[tuple[str, str], tuple[str, str]] = {}  # (app, HOST:PORT) -> (process, instance)
        self.requests: Counter = Counter()  # (app, process, instance, status class) -> count
        self.durations: defaultdict = defaultdict(lambda: [0, 0.0])  # (app, process, instance) -> [count, sum]
        self.lock = threading.Lock()  # scrapes may overlap; the counters are shared

    def describe(self):
        return []  # computed at each scrape: nothing to check at registration

    def collect(self):
        # imported here: see serve()
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

        with self.lock:
            apps = self._apps()
            self._forget(apps)
            instances = {app: found for app, found in self.scheduler.owned_instances().items() if app in apps}
            up = GaugeMetricFamily("ponton_instance_up", "1 if the instance is running, else 0", labels=LABELS)
            cpu = CounterMetricFamily("ponton_instance_cpu_seconds", "CPU time the instance used", labels=LABELS)
            memory = GaugeMetricFamily("ponton_instance_memory_bytes", "Memory the instance uses", labels=LABELS)
            limit = GaugeMetricFamily("ponton_instance_memory_limit_bytes", "The instance's memory limit",
                                      labels=LABELS)
            restarts = CounterMetricFamily("ponton_instance_restarts", "Times the engine restarted the instance",
                                           labels=LABELS)
            for app, found in instances.items():
                for instance in found:
                    labels = [app, instance.process, instance.name]
                    up.add_metric(labels, int(instance.running))
                    restarts.add_metric(labels, instance.restarts)
                    if instance.running:
                        used = self.scheduler.usage(instance)
                        cpu.add_metric(labels, used["cpu_seconds"])
                        memory.add_metric(labels, used["memory"])
                        if used["memory_limit"]:
                            limit.add_metric(labels, used["memory_limit"])
                        self.instance_at[(app, instance.address)] = (instance.process, instance.name)
            requests = CounterMetricFamily("ponton_http_requests", "Requests through the proxy, by status class",
                                           labels=LABELS + ["status_class"])
            latency = SummaryMetricFamily("ponton_http_request_duration_seconds", "Time to answer a request",
                                          labels=LABELS)
            for app in apps:
                self._read_log(app)
                self._latency(latency, app)
            for (app, process, instance, status_class), count in sorted(self.requests.items()):
                requests.add_metric([app, process, instance, status_class], count)
            for (app, process, instance), (count, total) in sorted(self.durations.items()):
                latency.add_metric([app, process, instance], count, total)
            return [up, cpu, memory, limit, restarts, requests, latency, *self._autoscale(GaugeMetricFamily)]

    def _autoscale(self, family) -> list:
        """Per autoscaled process: the count its last decision wanted (none before the first), the count it is
        set to run now (ps:autoscale:report's current) and its bounds."""
        series = {key: family(f"ponton_autoscale_{key}", text, labels=["app", "process"]) for key, text in [
            ("desired", "The instances autoscaling last decided on"),
            ("current", "The instances the autoscaled process is set to run"),
            ("min", "The fewest instances autoscaling may leave the process"),
            ("max", "The most instances autoscaling may give the process")]}
        state = State(self.settings.state_dir)
        try:
            for policy in state.autoscale_policies():
                labels = [policy.app, policy.process]
                if policy.desired is not None:
                    series["desired"].add_metric(labels, policy.desired)
                series["current"].add_metric(labels, state.formation(policy.app).get(policy.process, 0))
                series["min"].add_metric(labels, policy.minimum)
                series["max"].add_metric(labels, policy.maximum)
        finally:
            state.close()
        return list(series.values())

    def _apps(self) -> set[str]:
        state = State(self.settings.state_dir)  # its own connection: scrapes run in the HTTP server's threads
        try:
            return {app.name for app in state.apps()}
        finally:
            state.close()

    def _forget(self, apps: set[str]):
        """Drop what we kept of apps that no longer exist (destroyed, renamed): their series end with them."""
        for app in set(self.followers) - apps:
            del self.followers[app]
        self.instance_at = {key: value for key, value in self.instance_at.items() if key[0] in apps}
        for key in [key for key in self.requests if key[0] not in apps]:
            del self.requests[key]
        for key in [key for key in self.durations if key[0] not in apps]:
            del self.durations[key]

    def _where(self, app: str, backend: str | None) -> tuple[str, str]:
        """The process type and instance that answered at `backend` ('' and '': nginx itself, or unknown)."""
        return self.instance_at.get((app, backend), ("", ""))

    def _read_log(self, app: str):
        follower = self.followers.setdefault(app, accesslog.Follower(accesslog.path(self.settings, app)))
        for request in follower.read():
            process, instance = self._where(app, request.backend)
            self.requests[(app, process, instance, request.status_class)] += 1
            totals = self.durations[(app, process, instance)]
            totals[0] += 1
            totals[1] += request.duration

    def _latency(self, family, app: str):
        by_instance: dict[tuple[str, str], list[float]] = defaultdict(list)
        for request in accesslog.recent(accesslog.path(self.settings, app), time.time() - WINDOW):
            by_instance[self._where(app, request.backend)].append(request.duration)
        for (process, instance), durations in sorted(by_instance.items()):
            for q in metrics.QUANTILES:
                family.add_sample(family.name, {"app": app, "process": process, "instance": instance,
                                                "quantile": str(q)}, metrics.percentile(durations, q))


def serve(settings, scheduler: Scheduler) -> bool:
    """Serve the metrics on 127.0.0.1:metrics_port in a background thread; False if the setting turns them off."""
    if not settings.metrics_port:
        return False
    from prometheus_client import CollectorRegistry, start_http_server  # imported here: only the watchdog serves

    registry = CollectorRegistry()
    registry.register(Collector(settings, scheduler))
    start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry)
    return True

"""Metrics per app, process type and instance: CPU, memory and restarts from the engine; requests, responses by
status class and latency from the proxy's access log. `ponton metrics APP` prints a snapshot; the watchdog serves
the same numbers to Prometheus (exporter.py)."""

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ponton.features import accesslog

QUANTILES = (0.5, 0.9, 0.99)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile of `values` (None if there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Traffic:
    """The requests one instance (or a process type, or the whole app) answered."""

    requests: int = 0
    responses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    durations: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, requests: list[accesslog.Request]) -> "Traffic":
        traffic = cls()
        for request in requests:
            traffic.add(request)
        return traffic

    def add(self, request: accesslog.Request):
        self.requests += 1
        self.responses[request.status_class] = self.responses.get(request.status_class, 0) + 1
        self.durations.append(request.duration)

    def summary(self, window: float) -> dict:
        return {
            "requests": self.requests,
            "rps": round(self.requests / window, 3),
            "responses": self.responses,
            "latency_ms": {f"p{round(q * 100)}": None if (v := percentile(self.durations, q)) is None else v * 1000
                           for q in QUANTILES},
        }


def snapshot(p, app: str, window: float) -> dict:
    """The app's numbers now: usage of each instance (summed by process type), and the requests of the last
    `window` seconds, by the instance that answered them (the total also counts those nginx answered itself)."""
    scheduler = p.scheduler
    instances = scheduler.instances(app)
    running = [i for i in instances if i.running]
    with ThreadPoolExecutor(max_workers=8) as pool:  # each stats call waits about a second for a CPU sample
        usage = dict(zip([i.id for i in running], pool.map(lambda i: scheduler.usage(i, sample=True), running)))
    requests = accesslog.recent(accesslog.path(p.settings, app), time.time() - window)

    def row(group: list, **names) -> dict:
        used = [usage.get(i.id, {}) for i in group]
        addresses = {i.address for i in group if i.address}
        return {
            **names,
            "cpu_percent": _sum(u.get("cpu_percent") for u in used),
            "memory_bytes": _sum(u.get("memory") for u in used),
            "memory_limit_bytes": _sum(u.get("memory_limit") for u in used),
            "restarts": sum(i.restarts for i in group),
            **Traffic.of([r for r in requests if r.backend in addresses]).summary(window),
        }

    return {
        "app": app,
        "window_seconds": window,
        "instances": [row([i], instance=i.name, process=i.process, release=f"v{i.release}", state=i.status)
                      for i in instances],
        "processes": [row([i for i in instances if i.process == process], process=process)
                      for process in sorted({i.process for i in instances})],
        "total": Traffic.of(requests).summary(window),
    }


def _sum(values) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None

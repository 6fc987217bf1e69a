"""6. Autoscaling: from the start of a load to the first added instance answering through nginx, with the
watchdog at its default autoscale_interval (15 s), median of RUNS."""

import json
import statistics
import time

from bench.common import log, wait_for, watchdog
from ponton.testing import Load

RUNS = 3
CLIENTS = 4
TARGET = 20.0  # seconds: one evaluation interval, plus the new instance's start and health check


def _serving(box, app: str) -> int:
    return sum(1 for r in json.loads(box.run("ps:report", app, "--format", "json").stdout)
               if r["instance"].startswith("web.") and r.get("health") == "healthy")


def run(report, box, app: str):
    took = []
    with watchdog(box):
        for n in range(RUNS):
            box.run("ps:scale", app, "web=1")
            box.run("ps:autoscale", app, "web", "--min", "1", "--max", "2", "--rps", "5", "--cooldown", "0")
            log(f"autoscale {n + 1}/{RUNS}: load from {CLIENTS} clients until a second instance serves")
            with Load(box.http_port, box.host(app), clients=CLIENTS, max_seconds=120) as load:
                started = time.monotonic()
                wait_for(lambda: _serving(box, app) >= 2, 90, "a second instance", interval=0.2)
                took.append(time.monotonic() - started)
            box.run("ps:autoscale", app, "web", "--off")
            if load.result.failures:
                report.note(f"autoscale run {n + 1}: {len(load.result.failures)} failed requests")
    median = statistics.median(took)
    report.row(f"load start -> second instance serving (autoscale, median of {RUNS})",
               f"{median:.1f} s ({', '.join(f'{t:.1f}' for t in took)})", f"<= {TARGET:g} s", median <= TARGET)
    box.run("ps:scale", app, "web=1")

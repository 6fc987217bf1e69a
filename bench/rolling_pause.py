"""4. The longest pause any client sees while `ps:restart` replaces both web instances (web=2), under load."""

import time

from bench.common import log, ms
from ponton.testing import Load

INSTANCES = 2
CLIENTS = 4
TARGET = 0.100
SETTLE = 0.5  # seconds of load before and after the restart, so its first and last moments are covered


def run(report, box, app: str):
    box.run("ps:scale", app, f"web={INSTANCES}")
    log(f"ps:restart with web={INSTANCES} under load from {CLIENTS} clients")
    with Load(box.http_port, box.host(app), clients=CLIENTS, max_seconds=120) as load:
        time.sleep(SETTLE)
        started = time.monotonic()
        box.run("ps:restart", app)
        took = time.monotonic() - started
        time.sleep(SETTLE)
    result = load.result
    report.row(f"longest request during ps:restart ({CLIENTS} clients, web={INSTANCES})", ms(result.longest),
               f"< {ms(TARGET)}", result.longest < TARGET)
    report.row("failed requests during ps:restart", str(len(result.failures)), "0", not result.failures)
    report.row(f"requests during ps:restart (which took {took:.2f} s)", str(result.ok + len(result.failures)))
    if result.failures:
        report.note("failures during ps:restart (first 3): " + "; ".join(result.failures[:3]))

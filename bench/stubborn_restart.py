"""5. `ps:restart` of 4 web instances whose app ignores SIGTERM, under load: each old instance lives until SIGKILL
after stop_timeout, and that wait must not hold up the next swap (issue 18: Dokku's `multi` app took 43 s)."""

import time

from bench.common import log
from ponton.testing import Load

INSTANCES = 4
CLIENTS = 4
TARGET = 6.0


def run(report, box, app: str):
    box.run("config:set", app, "IGNORE_SIGTERM=1")
    box.run("ps:scale", app, f"web={INSTANCES}")
    log(f"ps:restart of web={INSTANCES} that ignore SIGTERM, under load")
    with Load(box.http_port, box.host(app), clients=CLIENTS, max_seconds=180) as load:
        started = time.monotonic()
        box.run("ps:restart", app)
        took = time.monotonic() - started
    result = load.result
    report.row(f"ps:restart of {INSTANCES} instances ignoring SIGTERM", f"{took:.2f} s", f"<= {TARGET:g} s",
               took <= TARGET)
    report.row("failed requests during it", str(len(result.failures)), "0", not result.failures)
    box.run("ps:scale", app, "web=1")
    box.run("config:unset", app, "IGNORE_SIGTERM")

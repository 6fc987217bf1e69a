"""2. From starting `ponton config:set APP K=V` until every web instance (web=2) serves the new V.

A config change rolls the app onto new containers, each on a new loopback port, so the ports to poll come from
`ps:report --format json`, refreshed in a thread while the change runs. The first new value through nginx and
the moment the command returned are reported too."""

import json
import secrets
import subprocess
import sys
import threading
import time

from bench.common import fetch, log

INSTANCES = 2
KEY = "BENCH_VALUE"
POLL = 0.01  # seconds between two rounds of requests: far finer than a rollout's steps
MAX_SECONDS = 120


class Ports(threading.Thread):
    """The published ports of the app's running web instances, from the latest `ps:report` (taken after the start)."""

    def __init__(self, box, app: str, deadline: float):
        super().__init__(daemon=True)
        self.box, self.app, self.deadline = box, app, deadline
        self.stop = threading.Event()
        self.ports: list[int] = []
        self.refreshes = 0

    def run(self):
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            # Fails when a container vanishes while it is listed, mid-rollout: the next refresh will do.
            report = self.box.run("ps:report", self.app, "--format", "json", check=False)
            if report.returncode == 0:
                rows = json.loads(report.stdout)
                self.ports = [r["port"] for r in rows if r["instance"].startswith("web.") and r["port"]]
                self.refreshes += 1


def _everywhere(ports: list[int], value: bytes) -> bool:
    """Every instance that answers serves `value`, and at least INSTANCES answer (a stopped one refuses)."""
    bodies = [body for body in (fetch(port, f"/env/{KEY}") for port in ports) if body is not None]
    return len(bodies) >= INSTANCES and all(body == value for body in bodies)


def run(report, box, app: str):
    box.run("ps:scale", app, f"web={INSTANCES}")
    value = secrets.token_hex(8)
    log(f"config:set with web={INSTANCES}: polling every instance and nginx until all serve the new value")
    started = time.monotonic()
    deadline = started + MAX_SECONDS
    command = subprocess.Popen([sys.executable, "-m", "ponton", "config:set", app, f"{KEY}={value}"],
                               env=box.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ports = Ports(box, app, deadline)
    ports.start()
    returned = via_nginx = everywhere = None
    try:
        while None in (returned, via_nginx, everywhere) and time.monotonic() < deadline:
            now = time.monotonic() - started
            if returned is None and command.poll() is not None:
                returned = now
            if via_nginx is None and fetch(box.http_port, f"/env/{KEY}", box.host(app)) == value.encode():
                via_nginx = now
            if everywhere is None and _everywhere(ports.ports, value.encode()):
                everywhere = now
            time.sleep(POLL)
    finally:
        ports.stop.set()
        ports.join()
        if command.poll() is None:
            command.kill()
        stderr = command.communicate()[1]
    if command.returncode != 0:
        raise RuntimeError(f"config:set exited {command.returncode}: {stderr.strip()}")
    if everywhere is None or via_nginx is None:
        raise RuntimeError(f"the new value was not served everywhere within {MAX_SECONDS} s")
    refresh = (time.monotonic() - started) / max(ports.refreshes, 1)
    report.row(f"config:set -> all {INSTANCES} instances serve it (ports seen every ~{refresh * 1000:.0f} ms)",
               f"{everywhere:.2f} s")
    report.row("config:set -> first new value through nginx", f"{via_nginx:.2f} s")
    report.row("config:set -> command returned", f"{returned:.2f} s")

"""7. From `docker kill` of one web instance (web=2) until its replacement serves, with `ponton watchdog` running
(as installed: the default interval; it reacts to the engine's events). Median of ROUNDS kills, each of the other
instance than the round before, under light load through nginx (whose failed requests are reported: with two
instances, a crash must drop none).

"Serves": an instance of the killed one's process type and number, in a container other than the killed one (or
the same container started again), answers 200 on its own loopback port. The instances are read from the engine
in-process (the docker-local scheduler's instances), far faster than a `ps:report` process."""

import subprocess
import time

from bench.common import fetch, log, seconds, wait_for, watchdog
from ponton.testing import Load

INSTANCES = 2
ROUNDS = 3
CLIENTS = 2
MAX_SECONDS = 60  # for one replacement
SETTLE = 1.0  # seconds of load after the replacement serves


def _web(app: str) -> dict[int, object]:
    from ponton.core.settings import Settings
    from runtime.docker_local import DockerLocal

    return {i.number: i for i in DockerLocal(Settings()).instances(app) if i.process == "web" and i.running}


def _started(instance) -> tuple[str, str]:
    return instance.id, instance.started_at


def _all_serving(app: str) -> bool:
    web = _web(app)
    return len(web) == INSTANCES and all(i.port and fetch(i.port) is not None for i in web.values())


def _replaced(app: str, number: int, killed: tuple[str, str]) -> object | None:
    instance = _web(app).get(number)
    if instance and _started(instance) != killed and instance.port and fetch(instance.port) is not None:
        return instance
    return None


def run(report, box, app: str):
    box.run("ps:scale", app, f"web={INSTANCES}")
    times, failures, requests, how = [], [], 0, set()
    with watchdog(box) as dog:
        wait_for(lambda: _all_serving(app), MAX_SECONDS, f"{INSTANCES} web instances serving", interval=0.2)
        for n in range(ROUNDS):
            number = 1 + n % INSTANCES
            victim = _web(app)[number]
            killed = _started(victim)
            log(f"watchdog: docker kill {victim.engine_name} (web.{number}), round {n + 1}/{ROUNDS}")
            with Load(box.http_port, box.host(app), clients=CLIENTS, max_seconds=MAX_SECONDS + 30) as load:
                time.sleep(0.2)
                started = time.monotonic()
                subprocess.run(["docker", "kill", victim.id], check=True, capture_output=True, timeout=60)
                wait_for(lambda: _replaced(app, number, killed), MAX_SECONDS, f"web.{number} replaced")
                times.append(time.monotonic() - started)
                time.sleep(SETTLE)
            if dog.poll() is not None:
                raise RuntimeError(f"the watchdog exited {dog.returncode}: see {box.root / 'watchdog.log'}")
            how.add("a new container" if _web(app)[number].id != killed[0] else "the same container restarted")
            failures += load.result.failures
            requests += load.result.ok + len(load.result.failures)
            wait_for(lambda: _all_serving(app), MAX_SECONDS, f"{INSTANCES} web instances serving", interval=0.2)
    report.row(f"docker kill of one of {INSTANCES} web instances -> replacement serves (median of {ROUNDS}; "
               f"{' / '.join(sorted(how))})", seconds(times))
    report.row(f"failed requests through nginx meanwhile ({CLIENTS} clients, {requests} requests)",
               str(len(failures)), "0", not failures)
    if failures:
        report.note("failures while an instance was killed (first 3): " + "; ".join(failures[:3]))

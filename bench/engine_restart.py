"""8. (Only with `python -m bench --engine-restart`: it restarts the machine's Docker engine, which stops every
container on it, other people's tests' too.) From a dockerd restart until all of APPS apps serve again through
nginx, each with its own answer, with `ponton watchdog` running; and the watchdog's idle CPU and memory with those
apps beforehand.

dockerd is stopped (SIGTERM to the pid in /var/run/docker.pid) and started again as it was started
(ponton.engine_restart: no systemd here). Times are from the stop and from the moment the engine answers again;
an answer of another app's body through an app's domain during recovery is counted (it must never happen)."""

import time

from bench.common import IMAGE, cpu_seconds, fetch, log, ms, rss_mb, wait_for, watchdog
from ponton.engine_restart import restart_engine

APPS = 10
IDLE_SECONDS = 30  # how long the watchdog's CPU use is sampled, idle, with APPS apps
MAX_SECONDS = 180


def _serving(box, apps: list[str], wrong: list[str]) -> set[str]:
    """The apps that answer with their own greeting through nginx; another app's answer is recorded in `wrong`."""
    serving = set()
    for app in apps:
        body = fetch(box.http_port, "/", box.host(app), timeout=2)
        if body is None:
            continue
        if body.startswith(f"{app} from ".encode()):
            serving.add(app)
        else:
            wrong.append(f"{app}: {body[:60]!r}")
    return serving


def run(report, box):
    apps = [box.new_app_name() for _ in range(APPS)]
    for n, app in enumerate(apps):
        log(f"engine restart: deploying {IMAGE} as {app} ({n + 1}/{APPS})")
        box.run("git:from-image", app, IMAGE)
        box.run("config:set", app, f"GREETING={app}")
    wrong: list[str] = []
    with watchdog(box) as dog:
        wait_for(lambda: len(_serving(box, apps, wrong)) == APPS, MAX_SECONDS, "every app serving", interval=0.2)
        time.sleep(5)  # past its first full round
        log(f"engine restart: sampling the idle watchdog for {IDLE_SECONDS} s")
        cpu, started = cpu_seconds(dog.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        cpu = (cpu_seconds(dog.pid) - cpu) / (time.monotonic() - started)
        report.row(f"watchdog idle CPU with {APPS} apps (over {IDLE_SECONDS} s)", f"{cpu * 100:.1f} % of a core")
        report.row(f"watchdog memory (RSS) with {APPS} apps", f"{rss_mb(dog.pid):.0f} MB")

        log("engine restart: stopping dockerd and starting it again")
        stopped = time.monotonic()
        engine_back = restart_engine(MAX_SECONDS)
        wait_for(lambda: len(_serving(box, apps, wrong)) == APPS, MAX_SECONDS, f"all {APPS} apps serving again",
                 interval=0.1)
        done = time.monotonic()
        if dog.poll() is not None:
            raise RuntimeError(f"the watchdog exited {dog.returncode}: see {box.root / 'watchdog.log'}")
    report.row(f"dockerd stopped -> all {APPS} apps serve again (engine down for "
               f"{ms(engine_back - stopped)})", f"{done - stopped:.2f} s")
    report.row(f"dockerd answers again -> all {APPS} apps serve again", f"{done - engine_back:.2f} s")
    report.row("answers of the wrong app during recovery", str(len(wrong)), "0", not wrong)
    if wrong:
        report.note("wrong answers during the engine restart (first 3): " + "; ".join(wrong[:3]))

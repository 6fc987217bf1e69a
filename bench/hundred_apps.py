"""10. A server with APPS apps (the echo image, web=1 each, deployed one after the other with git:from-image):
whether the last apps deploy as fast as the first (median of the first EDGE against the last EDGE, each
deploy's wall time), the watchdog's idle CPU and memory with them all, and how long a change of the routing
takes in nginx then (`nginx -t` and the reload until the old config's workers are gone, as ponton does it for
every change, median of RELOADS). Its own sandbox: every app is destroyed afterwards."""

import statistics
import time

from bench.common import IMAGE, cpu_seconds, fetch, log, ms, rss_mb, sandbox, seconds, wait_for, watchdog
from plugins import nginx
from ponton.core import settings

APPS = 100
EDGE = 5  # deploys at each end compared
IDLE_SECONDS = 30  # how long the idle watchdog's CPU use is sampled
RELOADS = 5
MAX_SECONDS = 900.0  # for all the deploys
RATIO_TARGET = 1.10
CPU_TARGET, RSS_TARGET = 0.02, 60.0  # of one core; MB


def _deploy_all(box, apps: list[str]) -> list[float]:
    times, started = [], time.monotonic()
    for n, app in enumerate(apps):
        if time.monotonic() - started > MAX_SECONDS:
            raise RuntimeError(f"{n} of {APPS} apps deployed in {MAX_SECONDS:g} s: stopped there")
        if n % 10 == 0:
            log(f"100 apps: deploying {IMAGE} as app {n + 1}/{APPS}")
        before = time.monotonic()
        box.run("git:from-image", app, IMAGE)
        times.append(time.monotonic() - before)
    return times


def _nginx_change(config) -> tuple[float, float]:
    """Seconds of `nginx -t` and of the reload (until the old workers exited), as every routing change runs them."""
    started = time.monotonic()
    check = nginx._nginx(config, "-t")
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {check.stderr.strip()}")
    checked = time.monotonic()
    nginx._reload(config)
    return checked - started, time.monotonic() - checked


def run(report):
    with sandbox() as box:
        apps = [box.new_app_name() for _ in range(APPS)]
        times = _deploy_all(box, apps)
        first, last = statistics.median(times[:EDGE]), statistics.median(times[-EDGE:])
        ratio = last / first
        report.row(f"{APPS} apps: git:from-image of apps 1-{EDGE} (median; each)", seconds(times[:EDGE]))
        report.row(f"{APPS} apps: git:from-image of apps {APPS - EDGE + 1}-{APPS} (median; each)",
                   seconds(times[-EDGE:]))
        report.row(f"{APPS} apps: last {EDGE} / first {EDGE} deploys", f"{ratio:.2f}", f"<= {RATIO_TARGET:.2f}",
                   ratio <= RATIO_TARGET)
        wait_for(lambda: all(fetch(box.http_port, "/", box.host(app)) is not None for app in apps), 120,
                 f"all {APPS} apps serving through nginx", interval=0.5)

        config = settings.load(str(box.root / "ponton.yml"))
        checks, reloads = [], []
        for _ in range(RELOADS):
            check, reload = _nginx_change(config)
            checks.append(check)
            reloads.append(reload)
        report.row(f"{APPS} apps: nginx -t (median of {RELOADS})", ms(statistics.median(checks)))
        report.row(f"{APPS} apps: nginx reload until the old workers exited (median of {RELOADS})",
                   ms(statistics.median(reloads)))

        with watchdog(box) as dog:
            time.sleep(10)  # past its start and first full round of every app
            if dog.poll() is not None:
                raise RuntimeError(f"the watchdog exited {dog.returncode}: see {box.root / 'watchdog.log'}")
            log(f"100 apps: sampling the idle watchdog for {IDLE_SECONDS} s")
            cpu, started = cpu_seconds(dog.pid), time.monotonic()
            time.sleep(IDLE_SECONDS)
            cpu = (cpu_seconds(dog.pid) - cpu) / (time.monotonic() - started)
            rss = rss_mb(dog.pid)
        report.row(f"watchdog idle CPU with {APPS} apps (over {IDLE_SECONDS} s)", f"{cpu * 100:.1f} % of a core",
                   f"<= {CPU_TARGET * 100:g} %", cpu <= CPU_TARGET)
        report.row(f"watchdog memory (RSS) with {APPS} apps", f"{rss:.0f} MB", f"<= {RSS_TARGET:g} MB",
                   rss <= RSS_TARGET)
        log(f"100 apps: destroying the {APPS} apps")

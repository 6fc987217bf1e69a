"""`python -m bench`: every measurement, then one table on stdout (progress goes to stderr).
`python -m bench --engine-restart`: only the engine restart (it restarts dockerd: see bench/engine_restart.py)."""

import argparse
import os
import subprocess
import sys
import traceback

from bench import (
    autoscale,
    cli_latency,
    config_change,
    engine_restart,
    image_sizes,
    push,
    rolling_pause,
    stubborn_restart,
    throughput,
    watchdog,
)
from bench.common import IMAGE, REPO, Pusher, Report, build_image, log, sandbox


def _measure(report: Report, name: str, function, *args) -> bool:
    """A measurement that breaks is reported as such; the others still run and everything is cleaned up."""
    try:
        function(report, *args)
        return True
    except Exception as e:
        traceback.print_exc()
        report.row(name, "FAILED (see below)", ok=False)
        report.note(f"{name} failed: {type(e).__name__}: {str(e).strip()}")
        return False


def _deploy(report: Report, box, app: str):
    log(f"deploying {IMAGE} as {app}")
    box.run("git:from-image", app, IMAGE)


def _pushes(report: Report, box):
    pusher = Pusher(box)
    flask_app = None

    def pushes(report):
        nonlocal flask_app
        flask_app = push.run(report, box, pusher)

    _measure(report, "flask push", pushes)
    _measure(report, "image sizes", image_sizes.run, box, pusher, flask_app)
    _measure(report, "static site throughput", throughput.run_static, box, pusher)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--engine-restart", action="store_true",
                        help="measure only the recovery from a dockerd restart (restarts the machine's engine)")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    log(f"building {IMAGE}")
    build_image()
    report = Report()
    if args.engine_restart:
        with sandbox() as box:
            _measure(report, "engine restart", engine_restart.run, box)
    else:
        _measure(report, "apps:list latency", cli_latency.run)
        with sandbox() as box:
            app = box.new_app_name()
            if _measure(report, "deploy of the echo app", _deploy, box, app):
                _measure(report, "throughput", throughput.run, box, app)
                _measure(report, "config change", config_change.run, box, app)
                _measure(report, "rolling update pause", rolling_pause.run, box, app)
                _measure(report, "restart of instances ignoring SIGTERM", stubborn_restart.run, box, app)
                _measure(report, "autoscaling", autoscale.run, box, app)
                _measure(report, "watchdog replacement", watchdog.run, box, app)
        with sandbox() as box:
            _pushes(report, box)
    # The load average says how far other work on the machine may have skewed the figures.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"ponton bench at {commit.stdout.strip() or '?'}, {os.cpu_count()} CPUs, load average {load}\n")
    print(report)
    return 0 if all(row.ok is not False for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench`: every measurement, then one table on stdout (progress goes to stderr).
`python -m bench --only push,never-healthy`: only those measurements (the names are in --help).
`python -m bench --engine-restart`: only the engine restart (it restarts dockerd: see bench/engine_restart.py)."""

import argparse
import os
import subprocess
import sys
import traceback

from bench import (
    autoscale,
    cli_latency,
    cluster,
    config_change,
    engine_restart,
    hundred_apps,
    image_sizes,
    never_healthy,
    push,
    rolling_pause,
    stubborn_restart,
    throughput,
    watchdog,
)
from bench.common import IMAGE, REPO, Pusher, Report, build_image, log, sandbox

# What --only selects, in the order they run.
ON_ECHO_APP = ("throughput", "config-change", "rolling-pause", "stubborn-restart", "autoscale", "watchdog")
PUSHED = ("push", "image-sizes", "static-throughput", "never-healthy")
NAMES = ("cli-latency", *ON_ECHO_APP, *PUSHED, "hundred-apps", "cluster")


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


def _on_echo_app(report: Report, wanted: set[str]):
    with sandbox() as box:
        app = box.new_app_name()
        if not _measure(report, "deploy of the echo app", _deploy, box, app):
            return
        for name, function in (("throughput", throughput.run), ("config-change", config_change.run),
                               ("rolling-pause", rolling_pause.run), ("stubborn-restart", stubborn_restart.run),
                               ("autoscale", autoscale.run), ("watchdog", watchdog.run)):
            if name in wanted:
                _measure(report, name, function, box, app)


def _pushes(report: Report, wanted: set[str]):
    with sandbox() as box:
        pusher = Pusher(box)
        flask_app = None

        def pushes(report):
            nonlocal flask_app
            flask_app = push.run(report, box, pusher)

        if "push" in wanted:
            _measure(report, "flask push", pushes)
        if "image-sizes" in wanted:
            _measure(report, "image sizes", image_sizes.run, box, pusher, flask_app)
        if "static-throughput" in wanted:
            _measure(report, "static site throughput", throughput.run_static, box, pusher)
        if "never-healthy" in wanted:
            _measure(report, "never-healthy release", never_healthy.run, box, pusher)


def _only(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(NAMES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown measurement {', '.join(sorted(unknown))}; "
                                         f"choose from {', '.join(NAMES)}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=_only, default=set(NAMES), metavar="NAME[,NAME...]",
                        help=f"run only these measurements: {', '.join(NAMES)}")
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
        if "cli-latency" in args.only:
            _measure(report, "apps:list latency", cli_latency.run)
        if args.only & set(ON_ECHO_APP):
            _on_echo_app(report, args.only)
        if args.only & set(PUSHED):
            _pushes(report, args.only)
        if "hundred-apps" in args.only:
            _measure(report, "100 apps", hundred_apps.run)
        if "cluster" in args.only:
            _measure(report, "cluster", cluster.run)
    # The load average says how far other work on the machine may have skewed the figures.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"ponton bench at {commit.stdout.strip() or '?'}, {os.cpu_count()} CPUs, load average {load}\n")
    print(report)
    return 0 if all(row.ok is not False for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench`: every measurement, then one table on stdout (progress goes to stderr)."""

import os
import subprocess
import sys
import traceback

from bench import cli_latency, config_change, rolling_pause, throughput
from bench.common import IMAGE, REPO, Report, build_image, log, sandbox


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


def main() -> int:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    log(f"building {IMAGE}")
    build_image()
    report = Report()
    _measure(report, "apps:list latency", cli_latency.run)
    with sandbox() as box:
        app = box.new_app_name()
        if _measure(report, "deploy of the echo app", _deploy, box, app):
            _measure(report, "throughput", throughput.run, box, app)
            _measure(report, "config change", config_change.run, box, app)
            _measure(report, "rolling update pause", rolling_pause.run, box, app)
    # The load average says how far other work on the machine may have skewed the figures.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"ponton bench at {commit.stdout.strip() or '?'}, {os.cpu_count()} CPUs, load average {load}\n")
    print(report)
    return 0 if all(row.ok is not False for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())

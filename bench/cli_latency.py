"""1. Latency of `ponton apps:list` as a user runs it: a fresh process each time, with 1 app and with 50 apps, on the
server and over SSH (sshd, the forced command, then the same process).

A fresh process is the point: every CLI call (and every SSH command) pays for Python's start-up and ponton's
imports, so this measures what the user waits for, not the listing alone."""

import statistics
import subprocess
import sys
import time

from bench.common import PONTON, Pusher, log, ms, sandbox

RUNS = 15
TARGET = 0.150
SSH_TARGET = 0.200
APP_COUNTS = (1, 50)


def _timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - started


def _median(argv: list[str], env: dict) -> tuple[float, float, float]:
    _timed(argv, env)  # warm-up: the first run after a change pays for cold caches, not for ponton
    times = [_timed(argv, env) for _ in range(RUNS)]
    return statistics.median(times), min(times), max(times)


def run(report):
    slow = False
    with sandbox() as box:
        created = 0
        for count in APP_COUNTS:
            log(f"apps:list: creating {count - created} app(s), then {RUNS} timed runs")
            for _ in range(count - created):
                box.run("apps:create", box.new_app_name())
            created = count
            median, low, high = _median([str(PONTON), "apps:list"], box.env)
            report.row(f"apps:list, {count} app{'s' * (count > 1)} (median of {RUNS}; min {ms(low)}, max {ms(high)})",
                       ms(median), f"< {ms(TARGET)}", median < TARGET)
            slow = slow or median >= TARGET
        pusher = Pusher(box)
        median, low, high = _median([*pusher.env["SSH_COMMAND"].split(), "root@127.0.0.1", "apps:list"], pusher.env)
        report.row(f"ssh HOST apps:list, {created} apps (median of {RUNS}; min {ms(low)}, max {ms(high)})",
                   ms(median), f"<= {ms(SSH_TARGET)}", median <= SSH_TARGET)
        if slow:
            report.note(import_profile(box))


def import_profile(box) -> str:
    """Which imports dominate `ponton apps:list`: top-level imports by cumulative time, with their heaviest children."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "ponton", "apps:list"],
                            env=box.env, capture_output=True, text=True, timeout=60)
    entries = []  # (level, cumulative microseconds, module), in the order Python prints them: children first
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        entries.append(((len(name) - len(name.lstrip()) - 1) // 2, int(cumulative), name.strip()))
    tops, children = [], []
    for level, cumulative, name in entries:
        if level == 1:
            children.append((cumulative, name))
        elif level == 0:
            tops.append((cumulative, name, sorted(children, reverse=True)[:3]))
            children = []
    total = sum(t[0] for t in tops)
    lines = [f"apps:list is over target; imports take {ms(total / 1e6)} in all (python -X importtime -m ponton apps:list;",
             "its own overhead inflates these, and the first module to import a shared dependency is charged for it):"]
    for cumulative, name, heaviest in sorted(tops, reverse=True)[:8]:
        inside = ", ".join(f"{child} {ms(c / 1e6)}" for c, child in heaviest)
        lines.append(f"  {ms(cumulative / 1e6):>7}  {name}" + (f"  (of which {inside})" if inside else ""))
    return "\n".join(lines)

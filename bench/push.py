"""5. Push-to-serving of the Flask test app (tests/apps/flask) through a real sshd with the real git client:
from starting `git push` until the new version answers through nginx (polled), median of COLD_RUNS and
WARM_RUNS.

- cold: the first push of a new app. The Python stack image is already there (built beforehand, untimed), but
  pip installs Flask and gunicorn from PyPI: a comment with a fresh token in requirements.txt makes the
  dependency layer new to the engine's cache.
- warm: a one-line change to app.py of an app running web=2, so that the dependency layer comes from the cache
  and the rolling update replaces two instances.

Each run changes the greeting, so the answer through nginx tells which version serves. When `git push` returned
and how long the build took (the builder's "Built ... in N s" line) are reported too; a warm push must also
return soon (old instances are stopped in the background)."""

import re
import secrets
import statistics
import time

from bench.common import APPS, Pusher, fetch, log, seconds

COLD_RUNS, WARM_RUNS = 3, 5
INSTANCES = 2
GREETING = "flask says hello"
COLD_TARGET, WARM_TARGET = 4.0, 1.5  # seconds, each run's median (issue 18)
WARM_RETURN_TARGET = 2.0
COLD_MAX, WARM_MAX = 600.0, 180.0  # seconds: a push that takes longer fails the measurement
POLL = 0.02


def _timed_push(pusher: Pusher, work, app: str, answer: bytes, max_seconds: float) -> tuple[float, float, float]:
    """Push, polling nginx until it answers `answer`: (serving, push returned, build) in seconds."""
    box = pusher.box
    output_path = box.root / f"push-{app}.log"
    with open(output_path, "w") as output:
        started = time.monotonic()
        push = pusher.push(work, app, output)
    serving = returned = None
    try:
        for _ in range(int(max_seconds / POLL)):
            now = time.monotonic() - started
            if now > max_seconds:
                break
            if returned is None and push.poll() is not None:
                returned = now
                if push.returncode != 0:
                    break
            if serving is None and fetch(box.http_port, "/", box.host(app), timeout=5) == answer:
                serving = now
            if serving is not None and returned is not None:
                break
            time.sleep(POLL)
    finally:
        if push.poll() is None:
            push.kill()
        push.wait(timeout=30)
    text = output_path.read_text(errors="replace")
    if push.returncode != 0:
        raise RuntimeError(f"git push to {app} exited {push.returncode}: {text[-2000:]}")
    if serving is None or returned is None:
        raise RuntimeError(f"{app} did not serve {answer!r} within {max_seconds:g} s")
    built = re.search(r"Built \S+ in ([\d.]+) s", text)
    return serving, returned, float(built.group(1)) if built else float("nan")


def _greet(work, greeting: str):
    app_py = work / "app.py"
    app_py.write_text(re.sub(r'return "[^"]*\\n"', f'return "{greeting}\\\\n"', app_py.read_text()))


def run(report, box, pusher: Pusher) -> str:
    """Measures cold then warm pushes; returns the name of the app left deployed (the Flask app)."""
    if not _has_stack():
        log("building the Python stack image first (untimed)")
        box.run("stack:build", "python")
    cold, warm = [], []
    app = work = None
    for n in range(COLD_RUNS):
        if app:
            box.run("apps:destroy", app, "--force")
        token = secrets.token_hex(4)
        app = box.new_app_name()
        work = pusher.checkout(APPS / "flask", app)
        requirements = work / "requirements.txt"
        requirements.write_text(requirements.read_text() + f"# bench {token}: a dependency layer new to the cache\n")
        _greet(work, f"{GREETING} {token}")
        pusher.commit(work, "cold")
        log(f"cold push {n + 1}/{COLD_RUNS} of tests/apps/flask as {app} (pip from PyPI)")
        cold.append(_timed_push(pusher, work, app, f"{GREETING} {token}\n".encode(), COLD_MAX))
    box.run("ps:scale", app, f"web={INSTANCES}")
    for n in range(WARM_RUNS):
        token = secrets.token_hex(4)
        _greet(work, f"{GREETING} {token}")
        pusher.commit(work, "warm")
        log(f"warm push {n + 1}/{WARM_RUNS} to {app} (one-line change, web={INSTANCES})")
        warm.append(_timed_push(pusher, work, app, f"{GREETING} {token}\n".encode(), WARM_MAX))
    for name, runs, target, return_target in (("cold", cold, COLD_TARGET, None),
                                              (f"warm, web={INSTANCES}", warm, WARM_TARGET, WARM_RETURN_TARGET)):
        serving, returned = [r[0] for r in runs], [r[1] for r in runs]
        report.row(f"flask push -> new version through nginx, {name} (median of {len(runs)})", seconds(serving),
                   f"<= {target:g} s", statistics.median(serving) <= target)
        report.row(f"flask push, {name}: git push returned", seconds(returned),
                   f"<= {return_target:g} s" if return_target else "",
                   statistics.median(returned) <= return_target if return_target else None)
        report.row(f"flask push, {name}: of which the build", seconds([r[2] for r in runs]))
    return app


def _has_stack() -> bool:
    from builder import languages, stacks
    from ponton.core.dockerclient import image_exists

    return image_exists(stacks.image(languages.by_name("python")))

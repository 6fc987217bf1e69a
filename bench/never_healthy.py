"""9. A release that never gets healthy, pushed with git (the shape of Dokku's `multi` test app: its `/` answers
500): how long `git push` stays open until the release is refused, against health_timeout (issue 18: 302 s with
a health_timeout of 60 s). The app is a Dockerfile on the echo image whose `/` answers 500 from the start."""

import time

from bench.common import IMAGE, Pusher, log
from ponton.core.settings import Settings

MAX_SECONDS = 600.0  # the measurement fails past this: a push that never returns
SLACK = 5.0  # seconds over health_timeout the target allows (the build, the stop of the failed instance)
DOCKERFILE = f"""FROM {IMAGE}
RUN sed -i 's/^broken = False$/broken = True/' /app/app.py && grep -q '^broken = True$' /app/app.py
"""


def run(report, box, pusher: Pusher):
    timeout = Settings.health_timeout  # the sandbox's: the default
    app = box.new_app_name()
    source = box.root / "never-healthy"
    source.mkdir()
    (source / "Dockerfile").write_text(DOCKERFILE)
    work = pusher.checkout(source, app)
    output_path = box.root / f"push-{app}.log"
    log(f"pushing a release whose / answers 500 as {app} (health_timeout {timeout:g} s)")
    with open(output_path, "w") as output:
        started = time.monotonic()
        push = pusher.push(work, app, output)
        try:
            push.wait(timeout=MAX_SECONDS)
        finally:
            if push.poll() is None:
                push.kill()
                push.wait(timeout=30)
        took = time.monotonic() - started
    text = output_path.read_text(errors="replace")
    if push.returncode == 0:
        raise RuntimeError(f"the push of a release that never gets healthy succeeded: {text[-2000:]}")
    progress = sum("not healthy yet" in line for line in text.splitlines())
    report.row(f"never-healthy release: git push refused after (health_timeout {timeout:g} s; "
               f"{progress} progress lines)", f"{took:.1f} s", f"<= {timeout + SLACK:g} s", took <= timeout + SLACK)
    box.run("apps:destroy", app, "--force")

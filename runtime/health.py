"""Health checks a new instance must pass before it gets traffic: app.json `healthchecks` in Dokku's format,
or by default: the web port accepts connections and `GET /` answers below 500. Either way within the
health_timeout setting: every wait, attempt and probe of one instance's checks shares that one deadline, whatever
app.json asks for (one app's checks must not hold a deploy, or the watchdog, for longer)."""

import http.client
import time
from collections.abc import Callable

from ponton.core.errors import DeployError
from ponton.core.scheduler import Instance, Scheduler

DEFAULT_WORKER_UPTIME = 2  # seconds a process without a port must stay up to count as started
DEPLOY_CHECK_TYPES = {"startup", "readiness"}  # liveness checks belong to the watchdog
LOG_LINES = 20  # of a failed instance's output, shown with the failure
PROGRESS_EVERY = 5.0  # seconds between "not healthy yet" lines while an instance is waited for
FIRST_POLL, MAX_POLL = 0.02, 0.5  # the default check polls fast at first (most apps answer within a second)


class CheckFailed(Exception):
    pass


class Deadline:
    """The time left for one instance's checks; a wait that would pass it ends the checks instead. Every few
    seconds of waiting, `report` is told how it stands."""

    def __init__(self, seconds: float, name: str = "", report: Callable[[str], None] | None = None):
        self.seconds, self.name, self.report = seconds, name, report
        self.started = time.monotonic()
        self.at = self.started + seconds
        self.reported = self.started

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def sleep(self, seconds: float, last: str):
        """Sleep `seconds`, or raise CheckFailed (saying `last`) if the deadline comes first."""
        if seconds >= self.left():
            time.sleep(self.left())
            raise CheckFailed(f"{last} (not healthy within health_timeout, {self.seconds:g}s)")
        now = time.monotonic()
        if self.report is not None and now - self.reported >= PROGRESS_EVERY:
            self.reported = now
            self.report(f"       {self.name}: not healthy yet ({last}), {now - self.started:.0f}s of {self.seconds:g}s")
        time.sleep(seconds)


def wait_healthy(scheduler: Scheduler, instance: Instance, checks: list[dict], timeout: float,
                 log: Callable[[str], None] | None = None):
    """Return once `instance` passes its checks, within `timeout` seconds in all; raise DeployError with its last
    log lines (from its `scheduler`) otherwise. While it waits, `log` hears how it stands every few seconds."""
    deadline = Deadline(timeout, instance.name, log)
    try:
        deploy_checks = [c for c in checks if c.get("type", "startup") in DEPLOY_CHECK_TYPES]
        if deploy_checks:
            for check in deploy_checks:
                _run_check(instance, check, deadline)
        elif instance.process == "web":
            _default_web_check(instance, deadline)
        else:
            _uptime(instance, DEFAULT_WORKER_UPTIME, deadline)
    except CheckFailed as e:
        logs = "\n".join(line for _, line in scheduler.logs(instance, LOG_LINES)).rstrip() or "(no output)"
        raise DeployError(f"{instance.name} failed its health check: {e}",
                          details=f"--- last log lines of {instance.name} ---\n{logs}")


def probe(instance: Instance, path: str = "/", timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTP GET to the instance's published web port, wherever it runs: (status, body). Raises OSError if
    unreachable."""
    port = instance.port
    if port is None:
        raise ConnectionRefusedError("no published port")
    connection = http.client.HTTPConnection(instance.host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "localhost", "User-Agent": "ponton-healthcheck"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _default_web_check(instance, deadline: Deadline):
    last, poll = "no answer", FIRST_POLL
    while True:
        _require_running(instance)
        try:
            status, _ = probe(instance, timeout=max(0.1, min(2.0, deadline.left())))
        except (OSError, http.client.HTTPException) as e:
            last = f"no answer on port {instance.port}: {e}"
        else:
            if status < 500:
                return
            last = f"GET / answered {status}"
        deadline.sleep(poll, last)
        poll = min(poll * 2, MAX_POLL)


def _run_check(instance, check: dict, deadline: Deadline):
    """One Dokku-style check: `attempts` tries of `path` (and `content`), or an `uptime` in seconds."""
    name = check.get("name") or check.get("path", "/")
    deadline.sleep(float(check.get("initialDelay", 0)), f"{name}: still in its initialDelay")
    if "uptime" in check:
        _uptime(instance, float(check["uptime"]), deadline)
        return
    path = check.get("path", "/")
    attempts, wait, timeout = int(check.get("attempts", 60)), float(check.get("wait", 5)), float(check.get("timeout", 5))
    last = "no attempt"
    for attempt in range(attempts):
        if attempt:
            deadline.sleep(wait, f"{name}: {last} after {attempt} attempts")
        _require_running(instance)
        try:
            status, body = probe(instance, path, max(0.1, min(timeout, deadline.left())))
        except (OSError, http.client.HTTPException) as e:
            last = f"GET {path}: {e}"
            continue
        if status >= 400:
            last = f"GET {path} answered {status}"
        elif "content" in check and check["content"] not in body.decode(errors="replace"):
            last = f"GET {path} did not contain {check['content']!r}"
        else:
            return
    raise CheckFailed(f"{check.get('name') or path}: {last} after {attempts} attempts")


def _uptime(instance, seconds: float, deadline: Deadline):
    if seconds > deadline.left():
        raise CheckFailed(f"an uptime of {seconds:g}s cannot pass within health_timeout ({deadline.seconds:g}s)")
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        _require_running(instance)
        time.sleep(min(0.2, max(0.0, until - time.monotonic())))
    _require_running(instance)


def _require_running(instance: Instance):
    instance.refresh()
    if not instance.running:
        raise CheckFailed(f"container {instance.status} (exit code {instance.exit_code})")
    if instance.restarts:
        raise CheckFailed(f"container crashed and was restarted (exit code {instance.exit_code})")

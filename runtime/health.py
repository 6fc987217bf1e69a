"""Health checks a new instance must pass before it gets traffic: app.json `healthchecks` in Dokku's format,
or by default: the web port accepts connections and `GET /` answers below 500 within the health_timeout setting."""

import http.client
import time

from ponton.errors import DeployError
from runtime import engine

DEFAULT_WORKER_UPTIME = 2  # seconds a process without a port must stay up to count as started
DEPLOY_CHECK_TYPES = {"startup", "readiness"}  # liveness checks belong to the watchdog


class CheckFailed(Exception):
    pass


def wait_healthy(instance: engine.Instance, checks: list[dict], timeout: float):
    """Return once `instance` passes its checks; raise DeployError with its last log lines otherwise."""
    try:
        deploy_checks = [c for c in checks if c.get("type", "startup") in DEPLOY_CHECK_TYPES]
        if deploy_checks:
            for check in deploy_checks:
                _run_check(instance, check)
        elif instance.process == "web":
            _default_web_check(instance, timeout)
        else:
            _uptime(instance, DEFAULT_WORKER_UPTIME)
    except CheckFailed as e:
        logs = engine.logs_tail(instance).rstrip() or "(no output)"
        raise DeployError(f"{instance.name} failed its health check: {e}\n--- last log lines of {instance.name} ---\n{logs}")


def probe(instance: engine.Instance, path: str = "/", timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTP GET to the instance's published loopback port: (status, body). Raises OSError if unreachable."""
    port = instance.port
    if port is None:
        raise ConnectionRefusedError("no published port")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "localhost", "User-Agent": "ponton-healthcheck"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _default_web_check(instance, timeout: float):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        _require_running(instance)
        try:
            status, _ = probe(instance)
        except (OSError, http.client.HTTPException) as e:
            last = f"no answer on port {instance.port}: {e}"
        else:
            if status < 500:
                return
            last = f"GET / answered {status}"
        time.sleep(0.1)
    raise CheckFailed(f"{last} (after {timeout:g}s)")


def _run_check(instance, check: dict):
    """One Dokku-style check: `attempts` tries of `path` (and `content`), or an `uptime` in seconds."""
    time.sleep(float(check.get("initialDelay", 0)))
    if "uptime" in check:
        _uptime(instance, float(check["uptime"]))
        return
    path = check.get("path", "/")
    attempts, wait, timeout = int(check.get("attempts", 60)), float(check.get("wait", 5)), float(check.get("timeout", 5))
    last = "no attempt"
    for attempt in range(attempts):
        if attempt:
            time.sleep(wait)
        _require_running(instance)
        try:
            status, body = probe(instance, path, timeout)
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


def _uptime(instance, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _require_running(instance)
        time.sleep(0.2)
    _require_running(instance)


def _require_running(instance):
    instance.refresh()
    if not instance.running:
        state = instance.container.attrs["State"]
        raise CheckFailed(f"container {state['Status']} (exit code {state.get('ExitCode')})")
    if instance.container.attrs.get("RestartCount"):
        raise CheckFailed(f"container crashed and was restarted (exit code {instance.container.attrs['State'].get('ExitCode')})")

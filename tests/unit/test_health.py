"""health: whatever app.json asks for, one instance's checks end within health_timeout.

The instance is a stand-in for a running container whose published port is a real HTTP server on 127.0.0.1
(the engine's part, starting and inspecting containers, is tested in tests/integration)."""

import http.server
import threading
import time

import pytest

from ponton.core.errors import DeployError
from ponton.core.settings import Settings
from runtime import health
from runtime.docker_local import DockerLocal, Instance
from runtime.spec import CONTAINER_PORT


class RunningContainer:
    """What health reads of a running container: its state, its published port, its logs."""

    def __init__(self, port: int):
        self.status = "running"
        self.attrs = {"State": {"Status": "running", "ExitCode": 0}, "RestartCount": 0,
                      "NetworkSettings": {"Ports": {f"{CONTAINER_PORT}/tcp": [{"HostPort": str(port)}]}}}

    def reload(self):
        pass

    def logs(self, **options) -> bytes:
        return b"2025-01-01T00:00:00.000000000Z booting forever\n"


@pytest.fixture
def unhealthy_port():
    """A real HTTP server on a loopback port that answers every GET with 503."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def checks_end_within(instance, checks, timeout: float) -> tuple[float, BaseException | None]:
    """Run wait_healthy in a thread (so that a check that would wait for hours cannot hang the test run): how long
    it took, and what it raised. Fails if it has not ended twice its timeout later."""
    outcome = []

    def check():
        started = time.monotonic()
        try:
            health.wait_healthy(DockerLocal(Settings()), instance, checks, timeout)
            outcome.append((time.monotonic() - started, None))
        except BaseException as e:
            outcome.append((time.monotonic() - started, e))

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    thread.join(timeout * 2 + 3)
    assert outcome, f"the checks {checks} were still running {timeout * 2 + 3}s later"
    return outcome[0]


@pytest.mark.parametrize("checks", [
    [{"attempts": 1000, "wait": 3600, "timeout": 3600}],  # the caps: about a thousand hours
    [{"initialDelay": 3600}],
    [{"uptime": 3600}],
    [{"attempts": 3, "wait": 0.4}, {"attempts": 3, "wait": 0.4}, {"attempts": 3, "wait": 0.4}],  # 2.4s together
    [],  # the default check of a web instance
])
def test_checks_share_one_deadline(unhealthy_port, checks):
    instance = Instance(RunningContainer(unhealthy_port), "web", 1, 1)
    elapsed, error = checks_end_within(instance, checks, timeout=1.5)
    assert isinstance(error, DeployError), error
    assert elapsed < 2.5
    assert str(error).startswith("web.1 failed its health check: ")
    assert "booting forever" in error.details and "\n" not in str(error)


def test_a_passing_check_within_the_deadline(unhealthy_port):
    instance = Instance(RunningContainer(unhealthy_port), "worker", 1, 1)
    elapsed, error = checks_end_within(instance, [{"uptime": 0.5}], timeout=5)
    assert error is None and 0.5 <= elapsed < 2


def test_a_long_wait_says_how_it_stands(unhealthy_port, monkeypatch):
    """Every PROGRESS_EVERY seconds of waiting, one line: which instance, the last answer, the time of the timeout."""
    monkeypatch.setattr(health, "PROGRESS_EVERY", 0.2)
    instance = Instance(RunningContainer(unhealthy_port), "web", 1, 1)
    lines = []
    with pytest.raises(DeployError):
        health.wait_healthy(DockerLocal(Settings()), instance, [], 1.5, lines.append)
    assert 2 <= len(lines) <= 7, lines
    assert all(line.strip().startswith("web.1: not healthy yet (GET / answered 503), ") for line in lines)
    assert all(line.endswith("s of 1.5s") for line in lines)

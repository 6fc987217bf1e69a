"""The watchdog keeps apps at their recorded state: real engine, real nginx, a real watchdog process."""

import json
import socket
import sqlite3
import subprocess
import time

import pytest

from ponton.engine_restart import restart_engine
from ponton.testing import Load
from tests.integration.conftest import APPS, WatchdogProcess, containers, eventually


def heartbeat(sandbox) -> str:
    """When the watchdog last finished a full round (it records this in the state)."""
    db = sqlite3.connect(sandbox.root / "state" / "ponton.db")
    try:
        row = db.execute("SELECT value FROM settings WHERE key = 'watchdog_heartbeat'").fetchone()
    finally:
        db.close()
    return row[0] if row else ""


def report(sandbox, app) -> list[dict]:
    return json.loads(sandbox.run("ps:report", app, "--format", "json").stdout)


def healthy(sandbox, app, count: int):
    rows = report(sandbox, app)
    return len(rows) == count and all(r["state"] == "running" and r["health"] == "healthy" for r in rows)


def test_killed_instance_comes_back_without_failed_requests(sandbox, deployed, watchdog):
    sandbox.run("ps:scale", deployed, "web=2")
    victim = containers(deployed)[0]
    clients = 4
    with Load(sandbox.http_port, sandbox.host(deployed), clients=clients) as load:
        subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
        killed_at = time.monotonic()
        eventually(lambda: victim not in containers(deployed) and healthy(sandbox, deployed, 2), 30, "replacement")
    # nginx replays no request an instance may have received (see the next test). So a request in flight to the
    # killed instance fails, and so does one sent to its port in the few milliseconds before the engine closes it:
    # Docker's userland proxy accepts it and then resets it, which to nginx is an instance dying mid-request. The
    # first failure takes the instance out for every nginx worker: at most one request per load client fails.
    assert len(load.result.failures) <= clients, load.result.failures
    assert all(abs(at - killed_at) < 1 for at in load.result.failed_at), (load.result.failed_at, killed_at)
    assert load.result.ok > 20


def test_a_request_that_kills_its_instance_takes_no_other_down(sandbox, pusher, watchdog):
    """A poisoned request (the app dies serving it: gunicorn stops when a worker exits with 3) is not replayed onto
    the next instance. It fails, and so may the requests in flight to the instance it killed: each load client
    has one request outstanding at a time, so at most `clients` of them. The other instance never dies."""
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "flask")
    assert pusher.push(app).returncode == 0
    sandbox.run("ps:scale", app, "web=2")
    before = {r["instance"]: (r["container"], r["restarts"]) for r in report(sandbox, app)}
    host, clients = sandbox.host(app), 4
    with Load(sandbox.http_port, host, clients=clients, max_seconds=120) as load:
        eventually(lambda: load.result.ok >= 200, 30, "a steady load")
        killed_at = time.monotonic()
        status, _ = sandbox.get(host, "/exit")
        served = load.result.ok
        eventually(lambda: load.result.ok >= served + 2000, 60, "2000 more requests served")
        eventually(lambda: healthy(sandbox, app, 2), 60, "the killed instance back")
    after = {r["instance"]: (r["container"], r["restarts"]) for r in report(sandbox, app)}
    result = load.result
    late = [round(t - killed_at, 3) for t in result.failed_at]
    figures = (f"{len(result.failures)} of {result.ok + len(result.failures)} requests failed, at {late[:10]} s "
               f"after the kill: {result.failures[:3]}")
    assert status == 502
    died = [name for name in before if after[name] != before[name]]
    assert len(died) == 1, f"{died} died; {figures}"
    assert len(result.failures) <= clients, figures
    print(figures)


def port_routed(sandbox, app: str, port: int) -> bool:
    return f"server 127.0.0.1:{port};" in (sandbox.conf_dir / f"{app}.conf").read_text()


def test_instance_restarted_after_a_crash_is_not_replaced_while_it_starts(sandbox, deployed, watchdog):
    """The engine restarts a crashed instance in place. The watchdog gives it the time a deploy gives a new
    instance to answer (its probes while it boots do not count: it is not replaced), and routes no request to it
    until it answers."""
    sandbox.run("config:set", deployed, "START_DELAY=6")  # it listens 6 s after each start
    sandbox.run("ps:scale", deployed, "web=2")
    before = report(sandbox, deployed)
    victim = before[0]
    with pytest.raises(OSError):
        sandbox.get("anything", "/exit", port=victim["port"])
    eventually(lambda: not port_routed(sandbox, deployed, victim["port"]), 10, "the crashed instance out of routing")
    assert port_routed(sandbox, deployed, before[1]["port"])
    eventually(lambda: (r := report(sandbox, deployed)[0])["restarts"] == 1 and r["health"] == "healthy", 60,
               "the instance answering again")
    eventually(lambda: port_routed(sandbox, deployed, victim["port"]), 30, "the instance routed again")
    assert [r["container"] for r in report(sandbox, deployed)] == [r["container"] for r in before]  # never replaced
    events = json.loads(sandbox.run("events", deployed, "--format", "json").stdout)
    assert not [e for e in events if e["user"] == "watchdog" and e["kind"] in ("health", "replace")], events


def test_removed_instance_is_recreated(sandbox, deployed, watchdog):
    [name] = containers(deployed)
    subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    eventually(lambda: healthy(sandbox, deployed, 1), 30, "recreation")
    assert sandbox.get(sandbox.host(deployed))[0] == 200


def test_unhealthy_instance_is_replaced(sandbox, deployed, watchdog):
    [row] = report(sandbox, deployed)
    sandbox.get("anything", "/break", port=row["port"])
    assert sandbox.get(sandbox.host(deployed))[0] == 500
    eventually(lambda: report(sandbox, deployed)[0]["container"] != row["container"] and healthy(sandbox, deployed, 1),
               60, "the unhealthy instance replaced")
    assert sandbox.get(sandbox.host(deployed))[0] == 200


def test_crash_loop_is_reported(sandbox, deployed, watchdog):
    [row] = report(sandbox, deployed)
    with pytest.raises(OSError):
        sandbox.get("anything", "/crash-loop", port=row["port"])
    eventually(lambda: report(sandbox, deployed)[0]["state"] == "crash-looping", 60, "crash-looping in ps:report")
    assert "exit code" in report(sandbox, deployed)[0]["last_exit"]


def test_killed_watchdog_converges_without_duplicates(sandbox, deployed, watchdog):
    sandbox.run("ps:scale", deployed, "web=3")
    for name in containers(deployed)[:2]:
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    eventually(lambda: "Starting" in watchdog.log.read_text(), 30, "the watchdog to start replacing")
    watchdog.kill()
    watchdog.start()
    eventually(lambda: healthy(sandbox, deployed, 3), 60, "convergence")
    converged = heartbeat(sandbox)
    eventually(lambda: heartbeat(sandbox) != converged, 30, "one more full round")  # which must start nothing
    assert len(containers(deployed)) == 3
    assert sorted(r["instance"] for r in report(sandbox, deployed)) == ["web.1", "web.2", "web.3"]


def test_tells_systemd_it_is_ready_and_alive(sandbox, deployed):
    """Type=notify and WatchdogSec=: READY=1 once started, then WATCHDOG=1 keep-alives, on $NOTIFY_SOCKET."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify_socket:
        path = str(sandbox.root / "notify.sock")
        notify_socket.bind(path)
        notify_socket.settimeout(30)
        dog = WatchdogProcess(sandbox)
        dog.start({"NOTIFY_SOCKET": path})
        try:
            messages = [notify_socket.recv(64), notify_socket.recv(64)]
        finally:
            dog.kill()
    assert messages == [b"READY=1", b"WATCHDOG=1"]


def test_report_shows_engine_nginx_watchdog_and_apps(sandbox, deployed, watchdog):
    eventually(lambda: "alive" in json.loads(sandbox.run("report", "--format", "json").stdout)["watchdog"], 30,
               "a watchdog heartbeat")
    data = json.loads(sandbox.run("report", "--format", "json").stdout)
    assert data["engine"].startswith("running") and data["nginx"].startswith("running")
    assert [(a["app"], a["instances"]) for a in data["apps"]] == [(deployed, "1/1")]


@pytest.mark.engine_restart
def test_apps_serve_again_after_the_engine_restarts(sandbox, echo_image, watchdog):
    apps = [sandbox.new_app_name() for _ in range(2)]
    for app in apps:
        sandbox.run("git:from-image", app, echo_image)
        sandbox.run("config:set", app, f"GREETING={app}")
    sandbox.run("ps:scale", apps[0], "web=2")

    restart_engine()

    def answers_as_itself(app: str) -> bool:
        """While the apps come back some requests may fail, but an answer is always the app's own."""
        status, body = sandbox.get(sandbox.host(app))
        assert status != 200 or body.startswith(f"{app} from ".encode()), (app, body)
        return status == 200

    for app in apps:
        eventually(lambda: answers_as_itself(app), 60, f"{app} serving")
    eventually(lambda: healthy(sandbox, apps[0], 2) and healthy(sandbox, apps[1], 1), 60, "every instance back")
    for app in apps:
        for _ in range(10):  # recovered: every request is answered, by this app's own instances
            assert sandbox.get(sandbox.host(app))[1].startswith(f"{app} from ".encode())


SLOW_START = 12  # seconds every instance of the slow app spends in its startup check (health_timeout is 20)


@pytest.fixture(scope="module")
def slow_start_image(echo_image) -> str:
    """The echo app whose app.json startup check waits SLOW_START seconds before its first attempt."""
    check = {"type": "startup", "path": "/", "initialDelay": SLOW_START}
    dockerfile = (f"FROM {echo_image}\n"
                  f"RUN printf '%s' '{json.dumps({'healthchecks': {'web': [check]}})}' > /app/app.json\n")
    subprocess.run(["docker", "build", "-q", "-t", "ponton-test/slow-start", "-"], input=dockerfile.encode(),
                   check=True, capture_output=True)
    return "ponton-test/slow-start"


def test_one_apps_slow_health_check_does_not_delay_another_apps_healing(sandbox, echo_image, slow_start_image,
                                                                         watchdog):
    slow, other = sandbox.new_app_name(), sandbox.new_app_name()
    sandbox.run("git:from-image", slow, slow_start_image)
    sandbox.run("git:from-image", other, echo_image)
    [slow_victim], [other_victim] = containers(slow), containers(other)

    subprocess.run(["docker", "rm", "-f", slow_victim], check=True, capture_output=True)
    eventually(lambda: [c for c in containers(slow) if c != slow_victim], 30, "the slow app's replacement starting")
    slow_started = time.monotonic()  # its startup check now takes SLOW_START seconds at least
    subprocess.run(["docker", "rm", "-f", other_victim], check=True, capture_output=True)

    def serves(app: str) -> bool:  # through nginx: its new instance is healthy and routed
        return sandbox.get(sandbox.host(app))[0] == 200

    eventually(lambda: serves(other), SLOW_START, "the other app healed while the slow one is in its startup check")
    assert time.monotonic() - slow_started < SLOW_START  # so the slow app's healing was still under way
    assert not serves(slow)
    eventually(lambda: serves(slow), 60, "the slow app healed too")
    assert healthy(sandbox, slow, 1) and healthy(sandbox, other, 1)

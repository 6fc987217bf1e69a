"""ponton logs (instances, following across deploys, per process type, the proxy's access log) and events."""

import json
import queue
import subprocess
import sys
import threading
import time

from tests.integration.conftest import Pusher


def test_logs_follow_new_instances_and_filter_by_process(sandbox, worker_image):
    app = sandbox.new_app_name()
    sandbox.run("git:from-image", app, worker_image)
    sandbox.run("ps:scale", app, "worker=1")

    follower = subprocess.Popen([sys.executable, "-m", "ponton", "logs", app, "-t", "-n", "0"], env=sandbox.env,
                                stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True).start()
    try:
        sandbox.run("ps:scale", app, "web=2")  # web.2 starts after `logs -t` began
        deadline, seen = time.monotonic() + 30, []
        while time.monotonic() < deadline and not any(line.startswith("web.2 | listening") for line in seen):
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        assert any(line.startswith("web.2 | listening on 5000") for line in seen), seen
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        follower.stdout.close()

    workers = sandbox.run("logs", app, "--ps", "worker", "-n", "5").stdout.splitlines()
    assert workers and all(line == "worker.1 | tick" for line in workers)
    everything = sandbox.run("logs", app, "-n", "1000").stdout
    assert "web.1 | listening on 5000" in everything and "worker.1 | tick" in everything


def test_proxy_access_log_is_structured(sandbox, deployed):
    for _ in range(3):
        sandbox.get(sandbox.host(deployed), "/env/NOPE")
    lines = sandbox.run("logs", deployed, "--proxy", "-n", "3").stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["app"], e["method"], e["uri"], e["status"]) for e in entries] == [(deployed, "GET", "/env/NOPE", 404)] * 3
    assert all(e["request_time"] >= 0 and e["upstream"].startswith("127.0.0.1:") for e in entries)


def test_bad_log_options_are_refused(sandbox, deployed):
    for args in (["--since", "yesterday"], ["--proxy", "--ps", "web"], ["-n", "-1"]):
        result = sandbox.run("logs", deployed, *args, check=False)
        assert result.returncode != 0 and result.stderr.startswith("error: "), args


def test_events_record_who_did_what(sandbox, deployed, tmp_path):
    sandbox.start_sshd()
    alice = Pusher(sandbox, tmp_path, "alice")
    assert alice.ssh("config:set", deployed, "GREETING=hi").returncode == 0
    assert alice.ssh("ps:scale", deployed, "web=2").returncode == 0
    sandbox.run("ps:restart", deployed)
    events = json.loads(sandbox.run("events", deployed, "--format", "json").stdout)
    mine = [(e["user"], e["kind"]) for e in events]
    assert ("alice", "config") in mine and ("alice", "scale") in mine and ("alice", "deploy") in mine
    assert any(user.endswith("(local)") and kind == "restart" for user, kind in mine)
    assert [kind for _, kind in mine].index("config") < [kind for _, kind in mine].index("restart")

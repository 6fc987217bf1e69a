"""Autoscaling on the real engine: the watchdog follows the load of a process within its bounds, through the
same rollout as ps:scale, and says why at each step."""

import json
import time

from ponton.testing import Load
from tests.integration.conftest import eventually

INTERVAL = "2"  # seconds between decisions (autoscale_interval), short for the test


def autoscaled(sandbox, app: str) -> dict:
    [web] = json.loads(sandbox.run("ps:autoscale:report", app, "--format", "json").stdout)
    return web


def fast_watchdog(watchdog):
    watchdog.kill()
    watchdog.start(env={"PONTON_AUTOSCALE_INTERVAL": INTERVAL})


def test_instances_follow_the_load_up_and_back_down(sandbox, deployed, watchdog):
    fast_watchdog(watchdog)
    sandbox.run("ps:autoscale", deployed, "web", "--min", "1", "--max", "4", "--rps", "5", "--cooldown", "3")
    with Load(sandbox.http_port, sandbox.host(deployed), clients=4, max_seconds=150) as load:
        eventually(lambda: autoscaled(sandbox, deployed)["current"] >= 3, 60, "three instances or more under load")
        eventually(lambda: autoscaled(sandbox, deployed)["current"] == 4, 60, "four instances under load")
        assert autoscaled(sandbox, deployed)["desired"] == 4
    assert load.result.failures == []
    assert load.result.ok > 100
    report = autoscaled(sandbox, deployed)
    assert "requests/s per instance (target 5)" in report["reason"]

    eventually(lambda: autoscaled(sandbox, deployed)["current"] == 1, 120, "back to one instance without load")
    steps = [e["message"] for e in json.loads(sandbox.run("events", deployed, "--format", "json").stdout)
             if e["kind"] == "autoscale" and e["message"].startswith("web=")]
    counts = [int(step.split(":")[0].removeprefix("web=")) for step in steps]
    assert max(counts) == 4 and counts[-3:] == [3, 2, 1], steps  # down one at a time
    assert all("->" in step for step in steps)
    assert sandbox.get(sandbox.host(deployed))[0] == 200


def test_never_above_max_nor_the_owners_quota(sandbox, deployed, watchdog):
    fast_watchdog(watchdog)
    sandbox.run("ps:autoscale", deployed, "web", "--min", "1", "--max", "2", "--rps", "1", "--cooldown", "60")
    seen = set()
    with Load(sandbox.http_port, sandbox.host(deployed), clients=4, max_seconds=60) as load:
        eventually(lambda: autoscaled(sandbox, deployed)["current"] == 2, 60, "two instances under load")
        deadline = time.monotonic() + 8  # four decisions more, each of which wants far more than 2
        while time.monotonic() < deadline:
            seen.add(autoscaled(sandbox, deployed)["current"])
    assert seen == {2}
    assert "capped at 2" in autoscaled(sandbox, deployed)["reason"]
    assert load.result.failures == []


def test_off_keeps_the_count_and_bad_policies_change_nothing(sandbox, deployed):
    for args, message in [
        (["--min", "3", "--max", "2", "--rps", "1"], "min <= max"),
        (["--min", "1", "--max", "2"], "at least one target"),
        (["--min", "1", "--max", "99", "--rps", "1"], "not a whole number from 0 to 50"),
        (["--min", "1", "--max", "2", "--rps", "-1"], "not a number"),
        (["--max", "2", "--rps", "1"], "give --min and --max"),
    ]:
        result = sandbox.run("ps:autoscale", deployed, "web", *args, check=False)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    bad = sandbox.run("ps:autoscale", deployed, "Web!", "--min", "1", "--max", "2", "--rps", "1", check=False)
    assert bad.returncode == 2 and "invalid process type" in bad.stderr
    assert json.loads(sandbox.run("ps:autoscale:report", deployed, "--format", "json").stdout) == []
    off = sandbox.run("ps:autoscale", deployed, "web", "--off", check=False)
    assert off.returncode == 3 and "is not autoscaled" in off.stderr

    sandbox.run("ps:autoscale", deployed, "web", "--min", "1", "--max", "3", "--cpu", "50")
    assert autoscaled(sandbox, deployed)["cpu"] == 50
    sandbox.run("ps:autoscale", deployed, "web", "--off")
    assert json.loads(sandbox.run("ps:autoscale:report", deployed, "--format", "json").stdout) == []

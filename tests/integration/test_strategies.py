"""Deploy strategies under load: rolling in batches, blue-green, canary, recreate."""

import json
import subprocess
import time

from ponton.testing import Load
from tests.integration.conftest import containers, eventually, settled


def greetings(sandbox, app, count: int) -> dict[bytes, int]:
    seen: dict[bytes, int] = {}
    for _ in range(count):
        status, body = sandbox.get(sandbox.host(app))
        assert status == 200
        word = body.split(b" ", 1)[0]
        seen[word] = seen.get(word, 0) + 1
    return seen


def test_rolling_in_batches_drops_nothing(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=4")
    sandbox.run("deploy:set", deployed, "batch", "2")
    with Load(sandbox.http_port, sandbox.host(deployed)) as load:
        result = sandbox.run("config:set", deployed, "GREETING=batched")
    assert load.result.failures == [] and load.result.ok > 20
    assert result.stdout.count("Starting") == 4 and result.stdout.count("Stopping") == 4
    assert greetings(sandbox, deployed, 20) == {b"batched": 20}


def test_blue_green_switches_at_once_and_rolls_back_instantly(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=2")
    sandbox.run("deploy:set", deployed, "strategy", "blue-green")
    sandbox.run("deploy:set", deployed, "wait-to-retire", "600")
    with Load(sandbox.http_port, sandbox.host(deployed)) as load:
        sandbox.run("config:set", deployed, "GREETING=green")
        switched = time.monotonic()  # the switch is one nginx reload, done (old workers gone) when the command ends
        eventually(lambda: all(s and s[-1][0] > switched for s in load.result.sequences), 30, "requests after it")
    assert load.result.failures == [] and load.result.ok > 20
    # Before the switch every client got blue; once it is done, every client gets green, never blue again. (While
    # nginx reloads, for milliseconds, workers of the old config may still accept a connection.)
    for sequence in load.result.sequences:
        assert {word for started, word in sequence if started > switched} == {b"green"}
    assert all(sequence[0][1] == b"hello" for sequence in load.result.sequences)

    assert len(containers(deployed, all=False)) == 4  # the old set waits, unrouted, as standby
    assert greetings(sandbox, deployed, 20) == {b"green": 20}
    report = json.loads(sandbox.run("deploy:report", deployed, "--format", "json").stdout)
    assert report["strategy"] == "blue-green" and report["standby"] == "v1"

    rollback = sandbox.run("rollback", deployed)
    assert "Starting" not in rollback.stdout  # instant: the standby set takes the traffic back
    assert greetings(sandbox, deployed, 20) == {b"hello": 20}


def test_canary_share_promote_and_abort(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=2")
    sandbox.run("deploy:set", deployed, "strategy", "canary")
    sandbox.run("deploy:set", deployed, "canary-weight", "20")
    with Load(sandbox.http_port, sandbox.host(deployed)) as load:
        result = sandbox.run("config:set", deployed, "GREETING=canary")
        assert "gets 20% of requests" in result.stdout
        seen = greetings(sandbox, deployed, 1000)
        assert 100 <= seen.get(b"canary", 0) <= 300, seen
        assert sandbox.run("ps:scale", deployed, "web=3", check=False).returncode != 0  # not during a canary
        sandbox.run("deploy:promote", deployed)
        assert greetings(sandbox, deployed, 50) == {b"canary": 50}

        sandbox.run("config:set", deployed, "GREETING=doomed")
        assert 0 < greetings(sandbox, deployed, 200).get(b"doomed", 0) < 200
        sandbox.run("deploy:abort", deployed)
        assert greetings(sandbox, deployed, 50) == {b"canary": 50}
    assert load.result.failures == [] and load.result.ok > 50
    statuses = [r["status"] for r in json.loads(sandbox.run("releases", deployed, "--format", "json").stdout)]
    assert statuses[:3] == ["aborted", "current", "succeeded"]
    settled(deployed, 2)


def test_canary_steps_are_taken_and_promoted_by_the_watchdog(sandbox, deployed, watchdog):
    sandbox.run("ps:scale", deployed, "web=2")
    for key, value in [("strategy", "canary"), ("canary-steps", "5,90"), ("canary-duration", "8")]:
        sandbox.run("deploy:set", deployed, key, value)
    with Load(sandbox.http_port, sandbox.host(deployed)) as load:
        result = sandbox.run("config:set", deployed, "GREETING=stepped")
        assert "gets 5% of requests (then 90%)" in result.stdout
        assert greetings(sandbox, deployed, 100).get(b"stepped", 0) <= 25  # the first step: about 5

        def share() -> int | None:
            return json.loads(sandbox.run("deploy:report", deployed, "--format", "json").stdout)["canary-share"]
        eventually(lambda: share() == 90, 30, "the second step")
        eventually(lambda: greetings(sandbox, deployed, 100).get(b"stepped", 0) >= 75, 30, "the watchdog to move 90%")
        eventually(lambda: share() is None, 30, "the promotion")
        assert greetings(sandbox, deployed, 50) == {b"stepped": 50}
    assert load.result.failures == [] and load.result.ok > 50
    settled(deployed, 2)


def test_recreate_stops_before_it_starts(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=2")
    result = sandbox.run("deploy:set", deployed, "strategy", "recreate")
    assert "downtime" in result.stdout
    since = str(int(time.time()) - 1)
    sandbox.run("config:set", deployed, "GREETING=recreated")
    events = subprocess.run(
        ["docker", "events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
         f"label=ponton.app={deployed}", "--filter", "type=container", "--format",
         '{{.Action}} {{index .Actor.Attributes "ponton.release"}}'],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split("\n")
    stops = [n for n, e in enumerate(events) if e in ("die 1", "stop 1")]
    starts = [n for n, e in enumerate(events) if e == "start 2"]
    assert len(starts) == 2 and stops, events
    assert max(stops) < min(starts), events
    assert greetings(sandbox, deployed, 10) == {b"recreated": 10}

"""Every path that replaces containers drops no request under steady concurrent load."""

import json

from ponton.testing import Load


def test_no_failed_request_through_every_kind_of_change(sandbox, deployed, echo_image):
    sandbox.run("ps:scale", deployed, "web=2")
    with Load(sandbox.http_port, sandbox.host(deployed), clients=4) as load:
        sandbox.run("git:from-image", deployed, echo_image)
        sandbox.run("config:set", deployed, "GREETING=bonjour")
        sandbox.run("ps:scale", deployed, "web=3")
        sandbox.run("ps:scale", deployed, "web=1")
        sandbox.run("ps:restart", deployed)
        sandbox.run("rollback", deployed)
    result = load.result
    assert result.failures == []
    assert result.ok > 200, "too few requests to mean anything"
    greetings = {body.split(b" ")[0] for body in result.bodies}
    assert greetings == {b"hello", b"bonjour"}  # the load saw the config change and the rollback

    releases = json.loads(sandbox.run("releases", deployed, "--format", "json").stdout)
    assert [r["status"] for r in releases] == ["current", "succeeded", "succeeded", "succeeded"]
    assert releases[0]["description"] == "Rollback to v2"
    assert sandbox.get(sandbox.host(deployed))[1].startswith(b"hello from ")


def test_failed_release_keeps_the_old_one_serving(sandbox, deployed, silent_image):
    sandbox.run("ps:scale", deployed, "web=2")
    with Load(sandbox.http_port, sandbox.host(deployed), clients=4) as load:
        result = sandbox.run("git:from-image", deployed, silent_image, check=False)
    assert result.returncode != 0
    assert "failed its health check" in result.stderr
    assert "last log lines" in result.stderr and "Traceback" not in result.stderr
    assert load.result.failures == []
    assert load.result.ok > 20

    releases = json.loads(sandbox.run("releases", deployed, "--format", "json").stdout)
    assert [(r["version"], r["status"]) for r in releases] == [("v2", "failed"), ("v1", "current")]
    report = json.loads(sandbox.run("ps:report", deployed, "--format", "json").stdout)
    assert [(r["instance"], r["release"], r["health"]) for r in report] == [
        ("web.1", "v1", "healthy"), ("web.2", "v1", "healthy")]

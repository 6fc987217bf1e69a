"""Deploying an image, routing by domain, scaling, destroying: against the real engine and nginx."""

import json
import subprocess

from ponton.testing import Load
from tests.integration.conftest import containers, networks


def test_from_image_serves_on_app_domain_and_custom_domain(sandbox, deployed):
    status, body = sandbox.get(sandbox.host(deployed))
    assert status == 200 and body.startswith(b"hello from ")

    sandbox.run("domains:add", deployed, "www.example.org")
    assert sandbox.get("www.example.org") == (status, body)
    assert "www.example.org" in sandbox.run("domains:report", deployed).stdout

    sandbox.run("domains:remove", deployed, "www.example.org")
    assert sandbox.get("www.example.org")[0] == 404


def test_unknown_host_gets_404(sandbox, deployed):
    assert sandbox.get("nothing-here.example.org")[0] == 404
    assert sandbox.get(f"other.{sandbox.domain}")[0] == 404


def test_containers_are_labelled_and_published_on_loopback_only(sandbox, deployed):
    [name] = containers(deployed)
    attrs = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, check=True).stdout)[0]
    labels = attrs["Config"]["Labels"]
    assert (labels["ponton.app"], labels["ponton.process"], labels["ponton.release"], labels["ponton.instance"]) == (
        deployed, "web", "1", "1")
    assert [b["HostIp"] for b in attrs["NetworkSettings"]["Ports"]["5000/tcp"]] == ["127.0.0.1"]
    assert list(attrs["NetworkSettings"]["Networks"]) == [f"ponton-{deployed}"]
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert attrs["HostConfig"]["LogConfig"]["Type"] == "json-file"


def test_scale_up_reaches_every_instance_and_down_drops_nothing(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=3")
    assert len(containers(deployed)) == 3
    hosts = {sandbox.get(sandbox.host(deployed))[1] for _ in range(30)}
    assert len(hosts) == 3

    with Load(sandbox.http_port, sandbox.host(deployed)) as load:
        sandbox.run("ps:scale", deployed, "web=1")
    assert load.result.failures == []
    assert load.result.ok > 20
    assert len(containers(deployed)) == 1


def test_ps_report_lists_each_instance(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=2")
    rows = json.loads(sandbox.run("ps:report", deployed, "--format", "json").stdout)
    assert [(r["instance"], r["state"], r["health"], r["restarts"]) for r in rows] == [
        ("web.1", "running", "healthy", 0), ("web.2", "running", "healthy", 0)]


def test_stop_and_start(sandbox, deployed):
    sandbox.run("ps:stop", deployed)
    assert containers(deployed) == []
    assert sandbox.get(sandbox.host(deployed))[0] == 503
    sandbox.run("ps:start", deployed)
    assert sandbox.get(sandbox.host(deployed))[0] == 200


def test_destroy_removes_containers_network_vhost_and_state(sandbox, deployed):
    assert containers(deployed) and networks(deployed)
    assert (sandbox.conf_dir / f"{deployed}.conf").exists()

    sandbox.run("apps:destroy", deployed, "--force")

    assert containers(deployed) == []
    assert networks(deployed) == []
    assert not (sandbox.conf_dir / f"{deployed}.conf").exists()
    assert deployed not in sandbox.run("apps:list").stdout
    assert sandbox.run("apps:info", deployed, check=False).returncode != 0
    assert sandbox.get(sandbox.host(deployed))[0] == 404


def test_rename_moves_the_app(sandbox, deployed):
    new = sandbox.new_app_name()
    sandbox.run("apps:rename", deployed, new)
    assert containers(deployed) == [] and networks(deployed) == []
    assert sandbox.get(sandbox.host(new))[0] == 200
    assert sandbox.get(sandbox.host(deployed))[0] == 404


def test_rebuild_of_an_image_deploys_it_again(sandbox, deployed, echo_image):
    sandbox.run("ps:rebuild", deployed)
    releases = json.loads(sandbox.run("releases", deployed, "--format", "json").stdout)
    assert [(r["version"], r["source"], r["status"]) for r in releases] == [
        ("v2", echo_image, "current"), ("v1", echo_image, "succeeded")]
    assert sandbox.get(sandbox.host(deployed))[0] == 200


def test_a_process_without_a_sigterm_handler_stops_on_sigterm(sandbox, worker_image):
    """The worker is a shell loop, with no SIGTERM handler: as a container's PID 1 it would ignore the stop and be
    killed (137) after stop_timeout; under the init that ponton gives every container, SIGTERM ends it (143)."""
    app = sandbox.new_app_name()
    sandbox.run("git:from-image", app, worker_image)
    sandbox.run("ps:scale", app, "worker=1")
    (name,) = [name for name in containers(app) if ".worker." in name]
    subprocess.run(["docker", "stop", name], check=True, capture_output=True)
    state = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, check=True).stdout)[0]
    assert state["HostConfig"].get("Init") is True
    assert state["State"]["ExitCode"] == 143  # 128 + SIGTERM

"""A change that fails midway is undone: real engine, real nginx, failures provoked for real (no free port for a
new instance, the engine unreachable, nginx refusing its config)."""

import io
import json
import signal
import subprocess
import sys
import tarfile

import pytest

from ponton.testing import CertificateAuthority, Load, free_port


def releases(sandbox, app) -> list[tuple[str, str]]:
    return [(r["version"], r["status"]) for r in json.loads(sandbox.run("releases", app, "--format", "json").stdout)]


def instances(sandbox, app) -> list[tuple[str, str, str, str]]:
    return [(r["instance"], r["release"], r["state"], r["health"])
            for r in json.loads(sandbox.run("ps:report", app, "--format", "json").stdout)]


def test_a_rollout_that_runs_out_of_ports_midway_is_undone(sandbox, deployed):
    """web=2 with room for one new instance only: the first new one starts and an old one is retired, then
    the port allocator finds no free port (an OSError). The retired instance must come back, the new one go,
    the release be marked failed, the config stay as it was: and the app keep answering throughout."""
    sandbox.run("ps:scale", deployed, "web=2")
    port = free_port()
    sandbox.env["PONTON_PORT_RANGE"] = f"{port}-{port}"  # one port for new instances: the second finds none
    with Load(sandbox.http_port, sandbox.host(deployed), clients=2) as load:
        result = sandbox.run("config:set", deployed, "GREETING=bonjour", check=False)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (f"error: v2 could not be rolled out: OSError: no free loopback port in "
                                              f"{port}-{port} (setting port_range)")
    assert "Rolling back" in result.stderr  # the first new instance had taken over from an old one

    del sandbox.env["PONTON_PORT_RANGE"]
    assert releases(sandbox, deployed) == [("v2", "failed"), ("v1", "current")]
    assert json.loads(sandbox.run("config:show", deployed, "--format", "json").stdout) == {}
    assert instances(sandbox, deployed) == [("web.1", "v1", "running", "healthy"), ("web.2", "v1", "running", "healthy")]
    assert load.result.failures == [] and load.result.ok > 10
    assert sandbox.get(sandbox.host(deployed))[1].startswith(b"hello from ")


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_a_rollout_stopped_by_a_signal_midway_is_undone(sandbox, deployed, signal_name):
    """web=2: once the first new instance is healthy (an old one is being retired), the command gets SIGTERM (a
    `kill`, systemd) or SIGHUP (its terminal or SSH session gone). It must put back what served, mark the release
    failed, restore the config, and say so in one line, not die with the app half rolled out."""
    sandbox.run("ps:scale", deployed, "web=2")
    with Load(sandbox.http_port, sandbox.host(deployed), clients=2) as load:
        command = subprocess.Popen([sys.executable, "-m", "ponton", "config:set", deployed, "GREETING=bonjour"],
                                   env=sandbox.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = []
        for line in command.stdout:  # the command's own progress is the readiness signal: no sleep
            said.append(line)
            if "is healthy" in line:
                command.send_signal(getattr(signal, signal_name))
                break
        rest, stderr = command.communicate(timeout=120)
    assert any("is healthy" in line for line in said), said + [rest, stderr]
    assert command.returncode == 1, stderr
    assert "Traceback" not in stderr and stderr.splitlines()[-1] == f"error: interrupted by {signal_name}", stderr
    assert "Rolling back" in stderr
    assert releases(sandbox, deployed) == [("v2", "failed"), ("v1", "current")]
    assert json.loads(sandbox.run("config:show", deployed, "--format", "json").stdout) == {}
    assert instances(sandbox, deployed) == [("web.1", "v1", "running", "healthy"), ("web.2", "v1", "running", "healthy")]
    assert load.result.failures == [] and load.result.ok > 10


@pytest.fixture
def engine_unreachable(sandbox):
    """The next commands find no Docker engine (the socket does not exist), as when dockerd is down."""
    sandbox.env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    yield
    del sandbox.env["DOCKER_HOST"]


def certificate_tar(sandbox, app) -> bytes:
    cert, key = CertificateAuthority(sandbox.root / "ca").issue(sandbox.host(app), "www.example.com")
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w") as tar:
        tar.add(cert, "server.crt")
        tar.add(key, "server.key")
    return tarball.getvalue()


def assert_failed_in_one_line(result):
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr


def test_domain_and_certificate_changes_are_undone_when_the_engine_is_unreachable(sandbox, deployed,
                                                                                  engine_unreachable):
    assert_failed_in_one_line(sandbox.run("domains:add", deployed, "www.example.com", check=False))
    tls = subprocess.run(  # a tarball on stdin: bytes, which Sandbox.run (text) does not take
        [sys.executable, "-m", "ponton", "certs:add", deployed], input=certificate_tar(sandbox, deployed),
        env=sandbox.env, capture_output=True, text=False, timeout=120)
    tls.stderr = tls.stderr.decode()
    assert_failed_in_one_line(tls)
    assert json.loads(sandbox.run("domains:report", deployed, "--format", "json").stdout) == [sandbox.host(deployed)]
    assert "has no certificate" in sandbox.run("certs:report", deployed).stdout
    assert not (sandbox.root / "state" / "tls" / deployed / "server.crt").exists()


def test_domain_changes_are_undone_when_nginx_refuses(sandbox, deployed):
    (sandbox.conf_dir / "zz-broken.conf").write_text("this is not nginx configuration;\n")  # nginx -t now fails
    added = sandbox.run("domains:add", deployed, "www.example.com", check=False)
    assert_failed_in_one_line(added)
    assert "nginx refused the new config" in added.stderr
    assert json.loads(sandbox.run("domains:report", deployed, "--format", "json").stdout) == [sandbox.host(deployed)]
    (sandbox.conf_dir / "zz-broken.conf").unlink()
    assert sandbox.get(sandbox.host(deployed))[0] == 200

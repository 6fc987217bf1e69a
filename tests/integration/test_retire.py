"""Old instances that ignore SIGTERM are stopped in the background: the swap goes on without waiting for their
SIGKILL, the command returns once the new ones serve, and a process of its own finishes them under the app's lock."""

import subprocess

import pytest

from ponton.testing import Load, Sandbox
from tests.integration.conftest import containers

STOP_TIMEOUT = 20  # long against a restart of 2 instances (a few seconds), so "still stopping" is not a race


@pytest.fixture
def patient(tmp_path):
    box = Sandbox(tmp_path, health_timeout=20, stop_timeout=STOP_TIMEOUT)
    yield box
    box.close()


def test_instances_that_ignore_sigterm_are_finished_in_the_background(patient, echo_image):
    app = patient.new_app_name()
    patient.run("git:from-image", app, echo_image)
    patient.run("config:set", app, "IGNORE_SIGTERM=1")
    patient.run("ps:scale", app, "web=2")
    before = set(containers(app))
    assert len(before) == 2

    with Load(patient.http_port, patient.host(app), clients=4, max_seconds=120) as load:
        patient.run("ps:restart", app)
        # It returned with both old instances still alive: SIGTERM did nothing, SIGKILL is STOP_TIMEOUT away.
        assert before <= set(containers(app, all=False))
        # The next change to the app waits until they are gone: the retiring process holds the app's lock.
        changed = patient.run("config:set", app, "GREETING=bonjour")
    assert "waiting for lock" in changed.stderr
    assert not before & set(containers(app))
    patient.run("ps:scale", app, "web=2")  # changes nothing, under the lock: once the config change's old ones went
    assert len(containers(app)) == 2
    assert load.result.failures == []
    assert load.result.ok > 20
    assert {body.split(b" ")[0] for body in load.result.bodies} == {b"hello", b"bonjour"}


def test_the_retiring_command_is_not_reachable_over_ssh(sandbox, deployed):
    """ps:retire runs under the app's lock without an access check: only ponton itself may start it."""
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    key = sandbox.new_key("mallory")
    sandbox.run("ssh-keys:add", "mallory", input=key.with_suffix(".pub").read_text())
    env = sandbox.ssh_env(key)
    result = subprocess.run([*env["SSH_COMMAND"].split(), "root@127.0.0.1", "ps:retire", deployed, "0" * 64 + "@1"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "command not allowed" in result.stderr
    assert len(containers(deployed, all=False)) == 1


def test_bad_stops_are_refused_in_one_line(sandbox, deployed):
    for stop in ("nothex@1", "0" * 64, "0" * 64 + "@soon", "0" * 64 + "@1.2.3"):
        result = sandbox.run("ps:retire", deployed, stop, check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "expected ID@TIME" in result.stderr

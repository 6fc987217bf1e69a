"""runtime.spec: the Docker arguments of every container ponton runs."""

import re

import pytest

from ponton.core.state import Release
from runtime import spec

RELEASE = Release(
    version=7, image="ponton/app-shop:abc", source="abc", config={"DATABASE_URL": "postgres://x", "MULTI": "a\nb $c"},
    processes={"web": "gunicorn app:app", "worker": "", "clock": "python 'clock.py' && echo done"},
    healthchecks={}, description="Deploy", created=0.0, status="succeeded",
)


def test_labels_name_every_container():
    args = spec.container_spec("shop", "worker", 3, RELEASE, owner="/var/lib/ponton")
    assert args["labels"] == {
        "ponton.app": "shop", "ponton.process": "worker", "ponton.release": "7", "ponton.instance": "3",
        "ponton.owner": "/var/lib/ponton",
    }
    assert re.fullmatch(r"shop\.worker\.3\.[0-9a-f]{6}", args["name"])
    assert args["image"] == "ponton/app-shop:abc"
    assert args["network"] == "ponton-shop"
    assert args["restart_policy"] == {"Name": "unless-stopped"}
    assert args["init"] is True


def test_names_are_unique_per_container():
    names = {spec.container_spec("shop", "web", 1, RELEASE, owner="o")["name"] for _ in range(20)}
    assert len(names) == 20


def test_web_published_on_loopback_only():
    assert spec.container_spec("shop", "web", 1, RELEASE, "o", host_port=20005)["ports"] == {
        "5000/tcp": ("127.0.0.1", 20005)}
    assert spec.container_spec("shop", "web", 1, RELEASE, "o")["ports"] == {"5000/tcp": ("127.0.0.1", None)}


def test_other_processes_publish_nothing():
    assert spec.container_spec("shop", "worker", 1, RELEASE, "o", host_port=20005)["ports"] == {}
    assert spec.container_spec("shop", "clock", 1, RELEASE, "o")["ports"] == {}


def test_environment_is_config_plus_port():
    env = spec.container_spec("shop", "worker", 1, RELEASE, "o")["environment"]
    assert env == {"DATABASE_URL": "postgres://x", "MULTI": "a\nb $c", "PORT": "5000"}


def test_port_wins_over_a_stored_port_key():
    release = Release(**{**RELEASE.__dict__, "config": {"PORT": "80"}})
    assert spec.container_spec("shop", "web", 1, release, "o")["environment"] == {"PORT": "5000"}


def test_command_wrapped_in_shell():
    assert spec.container_spec("shop", "web", 1, RELEASE, "o")["command"] == [
        "/bin/sh", "-c", "exec gunicorn app:app"]
    assert spec.container_spec("shop", "clock", 1, RELEASE, "o")["command"] == [
        "/bin/sh", "-c", "python 'clock.py' && echo done"]


@pytest.mark.parametrize("command, simple", [
    ("gunicorn --bind 0.0.0.0:$PORT app:app  # ponton sets $PORT", True),
    ("node server.js 2>&1", True),
    ("echo 'a; b' > /tmp/out", True),
    ("while true; do echo tick; sleep 1; done", False),
    ("migrate | tee log", False),
    ("a & b", False),
    ("FOO=1 python app.py", False),
    ("exec python app.py", False),
    ("python 'unbalanced", False),
])
def test_a_simple_command_is_execd_so_that_it_gets_sigterm(command, simple):
    assert spec.shell_command(command) == ["/bin/sh", "-c", f"exec {command}" if simple else command]


def test_empty_or_missing_command_runs_the_image_command():
    assert spec.container_spec("shop", "worker", 1, RELEASE, "o")["command"] is None
    assert spec.container_spec("shop", "unknown", 1, RELEASE, "o")["command"] is None


def test_one_off_runs_once_without_ports():
    args = spec.one_off_spec("shop", RELEASE, "./migrate --all", owner="o")
    assert args["command"] == ["/bin/sh", "-c", "./migrate --all"]
    assert args["ports"] == {}
    assert args["restart_policy"] == {"Name": "no"}
    assert args["labels"]["ponton.process"] == "run"
    assert args["environment"]["PORT"] == "5000" and args["environment"]["DATABASE_URL"] == "postgres://x"

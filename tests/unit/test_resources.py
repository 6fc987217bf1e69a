"""resources: limits and reservations, their sources, and the Docker arguments they become."""

import pytest

from ponton.core.errors import InvalidInput, PontonError
from ponton.core.settings import Settings
from ponton.core.state import Release
from ponton.features import resources
from runtime import spec


def test_memory_and_cpu_parsing():
    assert resources.memory_bytes("256m") == 256 * 2**20
    assert resources.memory_bytes("1G") == 2**30
    assert resources.memory_bytes("1.5g") == int(1.5 * 2**30)
    assert resources.memory_bytes("0") == 0
    assert resources.cpus("0.5") == 0.5
    for bad in ["", "256mb", "-1m", "1m", "1t", "m"]:
        with pytest.raises(InvalidInput, match="invalid memory"):
            resources.memory_bytes(bad)
    for bad in ["", "x", "-1", "0.001", "2000", "nan"]:
        with pytest.raises(InvalidInput, match="invalid CPU"):
            resources.cpus(bad)


def test_merge_sets_and_removes():
    stored = {"": {"limit.memory": "256m"}}
    assert resources.merge(stored, "web", {"limit.cpu": "1"}) == {"": {"limit.memory": "256m"}, "web": {"limit.cpu": "1"}}
    assert resources.merge(stored, "", {"limit.memory": None}) == {}
    assert stored == {"": {"limit.memory": "256m"}}


def test_process_type_wins_over_app_over_server():
    stored = {"": {"limit.memory": "256m", "limit.cpu": "1"}, "worker": {"limit.memory": "1g"}}
    server = {"limit.memory": "128m", "reserve.memory": "64m"}
    assert resources.effective(stored, server, "worker") == {
        "limit.memory": ("1g", "worker"), "limit.cpu": ("1", "app"), "reserve.memory": ("64m", "server")}
    assert resources.effective(stored, server, "web")["limit.memory"] == ("256m", "app")
    assert resources.effective({}, server, "web")["limit.memory"] == ("128m", "server")


def test_server_defaults_are_checked():
    assert resources.defaults(Settings(memory_limit="512M", cpu_limit="2")) == {"limit.memory": "512m", "limit.cpu": "2"}
    with pytest.raises(PontonError, match="setting cpu_limit"):
        resources.defaults(Settings(cpu_limit="lots"))


def test_docker_arguments():
    args = resources.container_args(
        {"limit.memory": "256m", "limit.cpu": "0.5", "reserve.memory": "128m", "reserve.cpu": "0.25"}, 100)
    assert args == {"pids_limit": 100, "mem_limit": 256 * 2**20, "memswap_limit": 256 * 2**20,
                    "nano_cpus": 500_000_000, "mem_reservation": 128 * 2**20, "cpu_shares": 256}
    assert resources.container_args({"limit.memory": "0"}, 0) == {}  # 0: none, even over a server default


RELEASE = Release(version=1, image="img", source="img", config={}, processes={"web": ""}, healthchecks={},
                  description="", created=0.0, status="succeeded")


def test_every_container_is_isolated_and_gets_its_resources():
    args = spec.container_spec("shop", "web", 1, RELEASE, "o", 20001, {"pids_limit": 64, "mem_limit": 2**28})
    assert args["security_opt"] == ["no-new-privileges"]
    assert args["cap_drop"] == ["ALL"]
    assert "NET_RAW" not in args["cap_add"] and "SYS_ADMIN" not in args["cap_add"]
    assert (args["pids_limit"], args["mem_limit"]) == (64, 2**28)
    assert not {"volumes", "mounts", "privileged", "network_mode", "pid_mode", "devices"} & set(args)
    one_off = spec.one_off_spec("shop", RELEASE, "true", "o", {"pids_limit": 64})
    assert one_off["cap_drop"] == ["ALL"] and one_off["pids_limit"] == 64

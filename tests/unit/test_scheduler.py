"""The scheduler seam: the setting picks the scheduler, and the rollout hands the proxy the instances to route to
(each reached at its own address), whatever scheduler placed them.

The scheduler here is an in-memory stand-in that places nothing: what is tested is what the rollout and the
routing do with the instances it returns (the real docker-local scheduler is tested against the engine in
tests/integration)."""

import dataclasses
import subprocess
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from ponton.core import scheduler
from ponton.core.context import Ponton
from ponton.core.errors import PontonError
from ponton.core.settings import Settings
from ponton.pipeline import routing
from runtime.docker_local import DockerLocal
from runtime.rollout import Rollout, Strategy


def test_the_default_scheduler_is_docker_local():
    chosen = scheduler.for_settings(Settings())
    assert isinstance(chosen, DockerLocal) and chosen.name == "docker-local"


def test_an_unknown_scheduler_is_one_clear_error():
    with pytest.raises(PontonError) as refused:
        scheduler.for_settings(dataclasses.replace(Settings(), scheduler="k8s\nsomething"))
    assert str(refused.value) == "setting scheduler: unknown scheduler 'k8s\\nsomething'; installed: docker-local, swarm"


def test_the_cli_says_so_in_one_line_and_changes_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PONTON_CONFIG": str(tmp_path / "none.yml"),
           "PONTON_STATE_DIR": str(tmp_path / "state"), "PONTON_NGINX_CONF_DIR": str(tmp_path / "nginx"),
           "PONTON_NGINX_COMMAND": "false", "PONTON_NGINX_PID_FILE": str(tmp_path / "nginx.pid"),
           "DOCKER_HOST": "unix:///nonexistent/docker.sock", "PONTON_SCHEDULER": "nomad"}

    def ponton(*args):
        return subprocess.run([sys.executable, "-m", "ponton", *args], env=env, capture_output=True, text=True,
                              timeout=60)

    created = ponton("apps:create", "shop")  # it removes what a former app of that name left on the scheduler
    assert (created.returncode, created.stdout) == (1, "")
    assert created.stderr == "error: setting scheduler: unknown scheduler 'nomad'; installed: docker-local, swarm\n"
    assert ponton("apps:list", "--format", "json").stdout == "[]\n"


@dataclass(eq=False)
class FakeInstance:
    """An instance as the interface describes it, on a host of its own (as on another node of a cluster)."""

    id: str
    process: str
    number: int
    release: int
    host: str
    port: int | None
    status: str = "running"
    restarts: int = 0
    exit_code: int | None = None
    ports: dict = field(default_factory=dict)

    name = property(lambda self: f"{self.process}.{self.number}")
    running = property(lambda self: self.status == "running")
    alive = property(lambda self: self.status in ("running", "restarting"))
    address = property(lambda self: f"{self.host}:{self.port}" if self.port else None)

    def published(self, container_port: str) -> int | None:
        return self.ports.get(container_port)

    def refresh(self):
        pass


class FakeScheduler:
    """Starts instances in memory, each on a host and port of its own."""

    name = "fake"

    def __init__(self, current: list[FakeInstance]):
        self.current = list(current)
        self.started = 0

    def instances(self, app):
        return list(self.current)

    def start(self, app, process, number, release, resources=None, extra_ports=(), networks=()):
        self.started += 1
        instance = FakeInstance(f"new{self.started}", process, number, release.version, f"10.0.0.{self.started}",
                                30000 + self.started, ports={"7000/udp": 31000 + self.started})
        self.current.append(instance)
        return instance

    def stop(self, instance, timeout):
        instance.status = "exited"

    def remove(self, instance):
        self.current.remove(instance)

    def logs(self, instance, lines=None, since=None):
        return []


RELEASE = SimpleNamespace(version=2, label="v2", processes={"web": ""}, healthchecks={"web": [{"uptime": 0}]})
SETTINGS = Settings(health_timeout=5, stop_timeout=1)


def old_instances() -> list[FakeInstance]:
    return [FakeInstance(f"old{n}", "web", n, 1, "10.0.1.1", 20000 + n) for n in (1, 2)]


def rollout(fake: FakeScheduler, strategy: Strategy, calls: list, said: list) -> Rollout:
    return Rollout("shop", RELEASE, SETTINGS, fake, lambda instances, weights: calls.append((instances, weights)),
                   lambda line, err=False: said.append(line), strategy)


def test_a_rolling_update_routes_instances_one_at_a_time():
    old = old_instances()
    fake, calls, said = FakeScheduler(old), [], []
    rollout(fake, Strategy(), calls, said).run({"web": 2})
    new = [i for i in fake.current if i.release == 2]
    assert [(routed, weights) for routed, weights in calls] == [([old[1], new[0]], None), ([new[0], new[1]], None)]
    assert all(isinstance(i, FakeInstance) for routed, _ in calls for i in routed)  # the scheduler's own
    assert "-----> Starting web.1 (v2)" in said and "-----> Stopping web.2 (v1)" in said


def test_a_canary_weighs_instances_not_ports():
    old = old_instances()
    fake, calls, said = FakeScheduler(old), [], []
    rollout(fake, Strategy(name="canary", canary_weight=20), calls, said).run({"web": 2})
    new = [i for i in fake.current if i.release == 2]
    [(routed, weights)] = calls
    assert routed == old + new
    assert weights == {old[0]: 4, old[1]: 4, new[0]: 1, new[1]: 1}  # 20% to the new ones


def test_routing_hands_the_proxy_each_instances_address(tmp_path, monkeypatch):
    p = Ponton(Settings(state_dir=tmp_path / "state"))
    p.state.create_app("shop")
    p.state.add_port("shop", "udp", 7000, "udp", 7000)
    updates = []
    monkeypatch.setattr(Ponton, "hooks", property(lambda self: SimpleNamespace(
        proxy_update=lambda **update: updates.append(update))))
    here = FakeInstance("a", "web", 1, 1, "10.0.0.1", 20001, ports={"7000/udp": 21001})
    there = FakeInstance("b", "web", 2, 2, "10.0.0.2", 20001, ports={"7000/udp": 21001})  # same ports, other node
    routing.route(p, "shop", [here, there], {here: 4, there: 1})
    [update] = updates
    assert update["backends"] == ["10.0.0.1:20001", "10.0.0.2:20001"]
    assert update["weights"] == {"10.0.0.1:20001": 4, "10.0.0.2:20001": 1}
    [udp] = update["proxy"].ports
    assert (udp.backends, udp.weights) == (("10.0.0.1:21001", "10.0.0.2:21001"), {"10.0.0.1:21001": 4,
                                                                                 "10.0.0.2:21001": 1})
